using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Features.Email;

/// <summary>Section <c>Email</c>: SMTP when <c>SMTP_HOST</c> is set; otherwise messages are written to a folder.</summary>
internal sealed class EmailOptions
{
    public const string Section = "Email";

    public string? SmtpHost { get; set; }

    public int SmtpPort { get; set; } = 587;

    public string? SmtpUsername { get; set; }

    public string? SmtpPassword { get; set; }

    /// <summary><c>SMTP_FROM</c>: the sender address of every message.</summary>
    public string From { get; set; } = "BluesMinds Gateway <no-reply@localhost>";

    /// <summary>Folder (under the data directory) for messages when no SMTP server is configured.</summary>
    public string PickupDirectory { get; set; } = "mail";

    public bool UsesSmtp => !string.IsNullOrWhiteSpace(SmtpHost);
}

internal sealed class EmailOptionsValidator : IValidateOptions<EmailOptions>
{
    public ValidateOptionsResult Validate(string? name, EmailOptions options)
    {
        var problems = new List<string>();
        if (options.SmtpPort is < 1 or > 65535)
        {
            problems.Add("SMTP_PORT must be between 1 and 65535.");
        }

        if (!MimeKit.MailboxAddress.TryParse(options.From, out _))
        {
            problems.Add("SMTP_FROM is not an email address (e.g. \"Gateway <no-reply@example.com>\").");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
