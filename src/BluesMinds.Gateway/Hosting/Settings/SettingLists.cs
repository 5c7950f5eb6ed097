namespace BluesMinds.Gateway.Hosting.Settings;

/// <summary>Comma- or whitespace-separated list settings, as operators write them in environment variables.</summary>
internal static class SettingLists
{
    private static readonly char[] Separators = [',', ';', ' ', '\n', '\r', '\t'];

    public static IReadOnlyList<string> Split(string? value) =>
        string.IsNullOrWhiteSpace(value) ? [] : value.Split(Separators, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
