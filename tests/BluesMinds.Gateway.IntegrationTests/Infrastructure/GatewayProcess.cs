using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace BluesMinds.Gateway.IntegrationTests.Infrastructure;

/// <summary>
/// The gateway as operators run it: <c>dotnet BluesMinds.Gateway.dll</c> in its own process, configured
/// only through environment variables, with a scratch folder as working directory.
/// </summary>
internal sealed partial class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private GatewayProcess(Process process)
    {
        _process = process;
    }

    public string StandardOutput
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public string Output => StandardOutput + StandardError;

    /// <summary>A development gateway with one admin, logging its start-up at Information level.</summary>
    public static Dictionary<string, string?> Development(string adminEmail) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Development",
        ["ADMIN_EMAILS"] = adminEmail,
        ["Logging__LogLevel__Default"] = "Information",
    };

    public static GatewayProcess Start(string workingDirectory, IReadOnlyDictionary<string, string?> environment, params string[] arguments)
    {
        var gateway = Path.Combine(AppContext.BaseDirectory, "BluesMinds.Gateway.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(gateway);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // Nothing from the test runner's own environment leaks into the gateway's configuration.
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || k.StartsWith("DOTNET_", StringComparison.Ordinal) || k.StartsWith("TEST_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        info.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment)
        {
            // A null value unsets the variable (ASPNETCORE_URLS above, for one).
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var gatewayProcess = new GatewayProcess(process);
        process.OutputDataReceived += (_, e) => gatewayProcess.OnOutput(e.Data, gatewayProcess._stdout);
        process.ErrorDataReceived += (_, e) => gatewayProcess.OnOutput(e.Data, gatewayProcess._stderr);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return gatewayProcess;
    }

    /// <summary>Waits for the process to exit and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        // Let the asynchronous readers drain.
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>Waits until Kestrel reports its address; fails if the process exits first.</summary>
    public async Task<Uri> WaitForListeningAsync(TimeSpan timeout)
    {
        var exited = _process.WaitForExitAsync();
        var finished = await Task.WhenAny(_listening.Task, exited, Task.Delay(timeout));
        if (finished == _listening.Task)
        {
            return await _listening.Task;
        }

        throw new InvalidOperationException(
            (finished == exited ? $"The gateway exited with {_process.ExitCode}" : "The gateway did not start in time") + ":\n" + Output);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void OnOutput(string? line, StringBuilder target)
    {
        if (line is null)
        {
            return;
        }

        lock (target)
        {
            target.AppendLine(line);
        }

        var match = ListeningPattern().Match(line);
        if (match.Success)
        {
            _listening.TrySetResult(new Uri(match.Groups[1].Value));
        }
    }

    [GeneratedRegex(@"Now listening on: (http://(?:[0-9.]+|\[[0-9a-f:]+\]|localhost):[0-9]+)")]
    private static partial Regex ListeningPattern();
}
