using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;

namespace BluesMinds.Gateway.Tests.Hosting;

internal sealed class TestEnvironment(string name) : IHostEnvironment
{
    public string EnvironmentName { get; set; } = name;

    public string ApplicationName { get; set; } = "BluesMinds.Gateway";

    public string ContentRootPath { get; set; } = Path.GetTempPath();

    public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();

    public static TestEnvironment Production => new(Environments.Production);

    public static TestEnvironment Development => new(Environments.Development);
}
