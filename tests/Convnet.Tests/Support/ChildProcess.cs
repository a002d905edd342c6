using System.Diagnostics;
using Convnet.Tests.Cli;
using Xunit;

namespace Convnet.Tests.Support;

/// <summary>Runs the built CLI as its own process and measures its peak resident memory.</summary>
internal static class ChildProcess
{
    /// <summary>The run and its peak resident set in KB: from /usr/bin/time when there is one, else by polling /proc/PID/status's VmHWM.</summary>
    public static (CliResult Result, long PeakKb) RunCliMeasured(string workingDirectory, params string[] args) => RunCli(workingDirectory, null, args);

    /// <summary>As <see cref="RunCliMeasured(string, string[])"/>, with extra environment variables for the child (e.g. DOTNET_GCHeapHardLimit).</summary>
    public static (CliResult Result, long PeakKb) RunCli(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Convnet.Cli.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: the test project should reference Convnet.Cli");
        bool timed = File.Exists("/usr/bin/time");
        var start = new ProcessStartInfo(timed ? "/usr/bin/time" : DotnetHost())
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        if (timed)
        {
            foreach (string arg in new[] { "--quiet", "-f", "peak-kb %M", DotnetHost() })
            {
                start.ArgumentList.Add(arg);
            }
        }
        start.ArgumentList.Add(dll);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        long polled = 0;
        var clock = Stopwatch.StartNew();
        while (!process.WaitForExit(TimeSpan.FromMilliseconds(5)))
        {
            polled = Math.Max(polled, HighWaterMarkKb(process.Id));
            if (clock.Elapsed > TimeSpan.FromMinutes(2))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"convnet {string.Join(' ', args)} did not exit within 2 minutes");
            }
        }
        process.WaitForExit();
        string err = stderr.Result;
        long peak = polled;
        if (timed)
        {
            string[] lines = err.TrimEnd('\n').Split('\n');
            Assert.StartsWith("peak-kb ", lines[^1], StringComparison.Ordinal);
            peak = long.Parse(lines[^1]["peak-kb ".Length..], System.Globalization.CultureInfo.InvariantCulture);
            err = string.Concat(lines[..^1].Select(l => l + "\n"));
        }
        return (new CliResult(process.ExitCode, stdout.Result, err), peak);
    }

    // VmHWM of a running process (of /usr/bin/time itself when timed: then unused), 0 once it is gone.
    private static long HighWaterMarkKb(int pid)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }

    /// <summary>The dotnet host running these tests, else the one on the PATH.</summary>
    public static string DotnetHost()
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
