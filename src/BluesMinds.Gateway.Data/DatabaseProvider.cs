namespace BluesMinds.Gateway.Data;

/// <summary>The database engines the gateway runs on.</summary>
public enum DatabaseProvider
{
    Sqlite,
    Postgres,
}
