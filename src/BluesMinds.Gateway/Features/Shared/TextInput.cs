using System.Globalization;
using System.Text;

namespace BluesMinds.Gateway.Features.Shared;

/// <summary>
/// Checks free text from clients before it is stored: valid Unicode (no lone surrogates, which
/// PostgreSQL would refuse), no control or bidirectional-override characters, NFC-normalised,
/// trimmed, and within a length limit.
/// </summary>
internal static class TextInput
{
    /// <returns>The cleaned value, or null with <paramref name="problem"/> set.</returns>
    public static string? Clean(string? value, string field, int maxLength, out string? problem, bool required = true)
    {
        problem = null;
        if (value is null || value.Trim().Length == 0)
        {
            if (required)
            {
                problem = $"{field} is required.";
            }

            return null;
        }

        if (!IsValidUnicode(value))
        {
            problem = $"{field} contains invalid Unicode.";
            return null;
        }

        var trimmed = value.Trim().Normalize(NormalizationForm.FormC);
        foreach (var rune in trimmed.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            if (category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned)
            {
                problem = $"{field} contains control or invisible formatting characters.";
                return null;
            }
        }

        if (trimmed.Length > maxLength)
        {
            problem = $"{field} must be at most {maxLength} characters.";
            return null;
        }

        return trimmed;
    }

    public static bool IsValidUnicode(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]))
            {
                if (i + 1 >= value.Length || !char.IsLowSurrogate(value[i + 1]))
                {
                    return false;
                }

                i++;
            }
            else if (char.IsLowSurrogate(value[i]))
            {
                return false;
            }
        }

        return true;
    }
}
