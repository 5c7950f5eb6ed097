using BluesMinds.Gateway.Features.Accounts.Sessions;
using BluesMinds.Gateway.Features.Audit;
using BluesMinds.Gateway.Features.Email;
using BluesMinds.Gateway.Hosting.Settings;

namespace BluesMinds.Gateway.Features.Accounts;

/// <summary>Registers accounts, sessions, the audit trail and email.</summary>
internal static class AccountRegistration
{
    public static WebApplicationBuilder AddAccounts(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddSessionAuthentication();
        services.AddSingleton<PasswordHasher>();
        services.AddSingleton<AdminEmails>();
        services.AddSingleton<SessionIssuer>();
        services.AddSingleton<AuditTrail>();
        services.AddOptions<LoginThrottleOptions>().Bind(builder.Configuration.GetSection(LoginThrottleOptions.Section)).ValidateOnStart()
            .Validate(o => o.AccountLimit > 0 && o.IpLimit > 0 && o.SlowAfter >= 0 && o.SlowDelayMilliseconds >= 0 && o.WindowMinutes > 0,
                "LoginThrottle settings must be positive.");
        services.AddSingleton<LoginThrottle>();

        services.AddOptions<EmailOptions>().Bind(builder.Configuration.GetSection(EmailOptions.Section)).ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<EmailOptions>, EmailOptionsValidator>();
        var email = builder.Configuration.BindOrDefault<EmailOptions>(EmailOptions.Section) ?? new EmailOptions();
        if (email.UsesSmtp)
        {
            services.AddSingleton<IEmailSender, SmtpEmailSender>();
        }
        else
        {
            services.AddSingleton<IEmailSender, PickupFolderEmailSender>();
        }

        return builder;
    }
}
