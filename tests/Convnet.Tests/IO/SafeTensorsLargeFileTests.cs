using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Convnet.IO;
using Convnet.Tests.Cli;
using Convnet.Tests.Data;
using Xunit;

namespace Convnet.Tests.IO;

/// <summary>
/// A consistent safetensors file with a 1 GiB tensor (a sparse file: it takes no disk) whose data
/// does not match its tensors_sha256 is refused after one streaming pass, before any tensor is
/// allocated: in this process (managed allocations) and as the CLI would meet it (peak memory of
/// a child process).
/// </summary>
public sealed class SafeTensorsLargeFileTests
{
    private const long TensorBytes = 1L << 30;

    private static string WriteSparseModel(TempDir dir)
    {
        string wrong = new('0', 64);
        string json = $"{{\"__metadata__\":{{\"format\":\"convnet\",\"format_version\":\"1\",\"{SafeTensors.ChecksumKey}\":\"{wrong}\"}},"
            + $"\"w\":{{\"dtype\":\"F32\",\"shape\":[{TensorBytes / 4}],\"data_offsets\":[0,{TensorBytes}]}}}}";
        int padded = (json.Length + 7) / 8 * 8;
        byte[] header = Encoding.UTF8.GetBytes(json.PadRight(padded));
        string path = dir.File("huge.safetensors");
        using var file = new FileStream(path, FileMode.CreateNew);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        file.Write(prefix);
        file.Write(header);
        file.SetLength(8 + header.Length + TensorBytes);
        return path;
    }

    [Fact]
    public void A_wrong_checksum_is_found_before_the_tensors_are_allocated()
    {
        using var dir = new TempDir();
        string path = WriteSparseModel(dir);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelFormatException>(() => SafeTensors.Read(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("checksum mismatch", e.Message, StringComparison.Ordinal);
        Assert.True(allocated < 8 << 20, $"{allocated:N0} bytes allocated to refuse the file");
    }

    [Fact]
    public void The_cli_refuses_it_with_a_small_peak_memory()
    {
        using var dir = new TempDir();
        string path = WriteSparseModel(dir);
        var (result, peakKb) = ChildProcess.RunCliMeasured(dir.Path, "summary", "--model", path);
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.StartsWith($"error: {path}: checksum mismatch", result.Err, StringComparison.Ordinal);
        Assert.True(peakKb < 400_000, $"peak resident memory {peakKb:N0} KB to refuse a file with a 1 GiB tensor");
    }
}

/// <summary>Runs the built CLI as its own process and measures its peak resident memory.</summary>
internal static class ChildProcess
{
    /// <summary>The run and its peak resident set in KB: from /usr/bin/time when there is one, else by polling /proc/PID/status's VmHWM.</summary>
    public static (CliResult Result, long PeakKb) RunCliMeasured(string workingDirectory, params string[] args)
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
        if (timed)
        {
            foreach (string arg in new[] { "-f", "peak-kb %M", DotnetHost() })
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
    private static string DotnetHost()
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
