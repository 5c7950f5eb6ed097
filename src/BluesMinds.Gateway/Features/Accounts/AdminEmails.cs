using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Features.Accounts;

/// <summary>The role an email earns: admin when listed in <c>ADMIN_EMAILS</c>.</summary>
internal sealed class AdminEmails(IOptions<SecurityOptions> options)
{
    private readonly HashSet<string> _admins = options.Value.AdminEmailList()
        .Select(e => EmailAddresses.Normalize(e, out _) ?? e)
        .ToHashSet(StringComparer.Ordinal);

    public string RoleFor(string normalizedEmail) => _admins.Contains(normalizedEmail) ? UserRoles.Admin : UserRoles.User;
}
