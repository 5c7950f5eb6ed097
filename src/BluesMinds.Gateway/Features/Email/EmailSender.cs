using BluesMinds.Gateway.Hosting.Http;
using BluesMinds.Gateway.Hosting.Settings;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Options;
using MimeKit;

namespace BluesMinds.Gateway.Features.Email;

/// <summary>Sends a plain-text email. The boundary to the outside world, so it has two implementations.</summary>
internal interface IEmailSender
{
    Task SendAsync(string to, string subject, string body, CancellationToken cancellationToken);
}

/// <summary>Sends through the configured SMTP server (STARTTLS when offered).</summary>
internal sealed class SmtpEmailSender(IOptions<EmailOptions> options) : IEmailSender
{
    public async Task SendAsync(string to, string subject, string body, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        using var message = EmailMessages.Create(settings.From, to, subject, body);
        using var client = new SmtpClient();
        await client.ConnectAsync(settings.SmtpHost!, settings.SmtpPort, SecureSocketOptions.Auto, cancellationToken);
        if (!string.IsNullOrEmpty(settings.SmtpUsername))
        {
            await client.AuthenticateAsync(settings.SmtpUsername, settings.SmtpPassword ?? string.Empty, cancellationToken);
        }

        await client.SendAsync(message, cancellationToken);
        await client.DisconnectAsync(quit: true, cancellationToken);

        // The caller goes on to its database writes: on the pool, not the socket thread that read the reply.
        await InlineSocketIo.LeaveAsync();
    }
}

/// <summary>Writes each message as an .eml file; the Development default, so reset links can be followed locally.</summary>
internal sealed class PickupFolderEmailSender(IOptions<EmailOptions> options, IOptions<AppOptions> app, IHostEnvironment environment) : IEmailSender
{
    public string Folder { get; } = Path.GetFullPath(
        options.Value.PickupDirectory,
        AppOptions.ResolveDataDirectory(app.Value.DataDirectory, environment.ContentRootPath));

    public async Task SendAsync(string to, string subject, string body, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Folder);
        using var message = EmailMessages.Create(options.Value.From, to, subject, body);
        var path = Path.Combine(Folder, $"{DateTime.UtcNow:yyyyMMddHHmmssfff}-{Guid.NewGuid():N}.eml");
        await message.WriteToAsync(path, cancellationToken);
    }
}

internal static class EmailMessages
{
    public static MimeMessage Create(string from, string to, string subject, string body)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse(from));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = subject;
        message.Body = new TextPart("plain") { Text = body };
        return message;
    }
}
