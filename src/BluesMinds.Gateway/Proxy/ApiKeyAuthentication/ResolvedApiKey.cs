namespace BluesMinds.Gateway.Proxy.ApiKeyAuthentication;

/// <summary>What the hot path needs to know about a presented key, from memory.</summary>
internal sealed record ResolvedApiKey(
    Guid KeyId,
    Guid UserId,
    int PlanId,
    IReadOnlyList<string> AllowedModels,
    DateTime? ExpiresAt,
    bool Revoked,
    string UserStatus)
{
    public bool AllowsModel(string model) => AllowedModels.Count == 0 || AllowedModels.Contains(model, StringComparer.Ordinal);
}

/// <summary>Why a key is or is not usable; the gateway maps each to its 401 message.</summary>
internal enum ApiKeyStatus
{
    Active,
    Malformed,
    Unknown,
    Revoked,
    Expired,
    UserSuspended,
    UserDeleted,
}

internal readonly record struct ApiKeyResolution(ApiKeyStatus Status, ResolvedApiKey? Key)
{
    public bool IsActive => Status == ApiKeyStatus.Active;
}
