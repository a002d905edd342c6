using Convnet.Tests.Data;
using Convnet.Tests.Support;
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

    private static CliResult RunCli(string workingDirectory, params string[] args) => ChildProcess.RunCliMeasured(workingDirectory, args).Result;
}
