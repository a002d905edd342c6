using System.Diagnostics;
using System.Text.Json;
using Convnet.Tests.Cli;
using Xunit;

namespace Convnet.Tests.Support;

/// <summary>
/// Runs <c>Fixtures/onnx/export_reference.py</c> (PyTorch's reference network exported to ONNX, with
/// its probabilities on fixed pixels) at test time. Without a python3 that imports torch and onnx
/// the test fails saying how to install them: CI installs them in .ci/run, so the check never skips.
/// </summary>
internal static class PyTorchExport
{
    private static readonly Lazy<string?> Interpreter = new(FindPython);

    /// <summary>What the script wrote: the .onnx file, and its pixels (HWC bytes per image) and PyTorch's probabilities.</summary>
    public sealed record Reference(string OnnxPath, byte[][] Pixels, float[][] Probabilities);

    /// <summary>Exports the reference network into <paramref name="dir"/> with the script's <paramref name="options"/> (e.g. "--bn", "--softmax").</summary>
    public static Reference Run(string dir, params string[] options)
    {
        string python = Interpreter.Value
            ?? throw new Xunit.Sdk.XunitException("The ONNX import test needs Python 3 with PyTorch and onnx: on Debian, apt-get install -y python3-torch python3-onnx (.ci/run installs them).");
        string script = Path.Combine(CliHarness.RepoRoot(), "tests", "Convnet.Tests", "Fixtures", "onnx", "export_reference.py");
        var (code, _, err) = Execute(python, [script, dir, .. options]);
        Assert.True(code == 0, $"export_reference.py {string.Join(' ', options)} failed:\n{err}");
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "reference.json")));
        var pixels = json.RootElement.GetProperty("pixels").EnumerateArray().Select(row => row.EnumerateArray().Select(v => (byte)v.GetInt32()).ToArray()).ToArray();
        var probabilities = json.RootElement.GetProperty("probabilities").EnumerateArray().Select(row => row.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray()).ToArray();
        return new Reference(Path.Combine(dir, "reference.onnx"), pixels, probabilities);
    }

    /// <summary>Debian's python3 first (where python3-torch installs), then the one on PATH.</summary>
    private static string? FindPython()
    {
        foreach (string candidate in new[] { "/usr/bin/python3", "python3" })
        {
            try
            {
                if (Execute(candidate, ["-c", "import torch, onnx"]).Code == 0)
                {
                    return candidate;
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // Not installed under that name.
            }
        }
        return null;
    }

    private static (int Code, string Out, string Err) Execute(string program, string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // One thread: the machine is shared, and the exported numbers do not depend on it.
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }
}
