using System.Diagnostics;
using Convnet.Tests.Data;
using Xunit;

namespace Convnet.Tests.Cli;

/// <summary>The real entry point, run as its own process: Main, the console writers and the exit code.</summary>
public sealed class CliProcessTests
{
    [Fact]
    public void The_built_cli_runs_as_a_process_and_returns_its_exit_codes()
    {
        using var dir = new TempDir();

        var help = RunCli(dir.Path, "--help");
        Assert.True(help.ExitCode == 0, help.ToString());
        Assert.Contains("Usage:", help.Out);
        foreach (string command in new[] { "data", "train", "predict", "evaluate", "summary", "bench" })
        {
            Assert.Contains($"  {command}", help.Out);
        }

        string missing = Path.Combine(dir.Path, "missing.safetensors");
        var error = RunCli(dir.Path, "summary", "--model", missing);
        Assert.True(error.ExitCode == 1, error.ToString());
        Assert.Equal($"error: model '{missing}' not found", error.Err.TrimEnd());
        Assert.Equal("", error.Out);
    }

    private static CliResult RunCli(string workingDirectory, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Convnet.Cli.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: the test project should reference Convnet.Cli");
        var start = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"convnet {string.Join(' ', args)} did not exit within 2 minutes");
        }
        process.WaitForExit();
        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The dotnet host running these tests, else the one on the PATH.</summary>
    internal static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
        {
            return host;
        }
        string? self = Environment.ProcessPath;
        return self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
    }
}
