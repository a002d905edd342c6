using System.Globalization;
using Convnet.Data;
using Convnet.IO;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Saving;
using Convnet.Tensors;
using Convnet.Tests.Data;
using Convnet.Tests.Models;
using Convnet.Tests.Support;
using Xunit;

namespace Convnet.Tests.Cli;

/// <summary>
/// No architecture, from a spec or a model file, makes convnet allocate what it claims before
/// checking it: the crafted inputs run in a child process under a 2 GB heap ceiling (a regression
/// fails there instead of taking the machine's memory) and its peak resident memory is read from
/// /proc while it runs.
/// </summary>
public sealed class CliMemoryTests
{
    private const long PeakCeilingBytes = 500L << 20;

    [Fact]
    public void A_spec_claiming_gigabytes_is_refused_before_allocating_with_the_estimate_and_the_limit()
    {
        using var dir = new TempDir();
        var (result, peak) = RunCliMeasured(dir.Path, "summary", "--arch", "flatten,dense1000000,dense10");
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("token 2 'dense1000000'", result.Err, StringComparison.Ordinal);
        Assert.Contains("the model would need about 20.5 GB", result.Err, StringComparison.Ordinal);
        Assert.Contains("above the memory limit of 1.0 GB", result.Err, StringComparison.Ordinal);
        Assert.Contains("--memory-limit", result.Err, StringComparison.Ordinal);
        Assert.True(peak < PeakCeilingBytes, $"peak {peak >> 20} MB\n{result}");
    }

    [Fact]
    public void A_layer_beyond_one_array_is_refused_by_name()
    {
        using var dir = new TempDir();
        // 26·26·64 = 43,264 inputs × 1,000,000 units: more values than an array holds.
        var (result, peak) = RunCliMeasured(dir.Path, "summary", "--arch", "conv64k3,flatten,dense1000000,dense10");
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("token 3 'dense1000000'", result.Err, StringComparison.Ordinal);
        Assert.Contains("weight [1000000, 43264] would hold more values than one array can", result.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", result.Err, StringComparison.Ordinal);
        Assert.True(peak < PeakCeilingBytes, $"peak {peak >> 20} MB\n{result}");
    }

    [Fact]
    public void A_model_file_whose_metadata_claims_a_huge_layer_is_refused_against_its_own_tensors()
    {
        using var dir = new TempDir();
        string path = dir.File("model.safetensors");
        using (var model = ReferenceModel.Create())
        {
            model.Save(path);
        }
        // The tensors stay those of Dense(128) (so the checksum still holds); the metadata says Dense(100000).
        var (tensors, metadata) = SafeTensors.Read(path);
        var edited = metadata.ToDictionary();
        Assert.Contains("\"units\":\"128\"", edited["architecture"], StringComparison.Ordinal);
        edited["architecture"] = edited["architecture"].Replace("\"units\":\"128\"", "\"units\":\"100000\"", StringComparison.Ordinal);
        SafeTensors.Write(path, tensors, edited);

        var (result, peak) = RunCliMeasured(dir.Path, "summary", "--model", path);
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains(path, result.Err, StringComparison.Ordinal);
        Assert.Contains("tensor '7.weight' has shape [128, 1600], the architecture needs [100000, 1600]", result.Err, StringComparison.Ordinal);
        Assert.True(peak < PeakCeilingBytes, $"peak {peak >> 20} MB\n{result}");
    }

    [Fact]
    public void Memory_limit_option_refuses_a_model_above_it_and_reports_a_bad_size()
    {
        using var dir = new TempDir();
        string path = dir.File("model.safetensors");
        using (var model = ReferenceModel.Create())
        {
            model.Save(path);
        }
        var small = CliHarness.Run("summary", "--model", path, "--memory-limit", "1M");
        Assert.True(small.ExitCode == 1, small.ToString());
        Assert.Contains("above the memory limit of 1.0 MB", small.Err, StringComparison.Ordinal);

        var spec = CliHarness.Run("summary", "--arch", "conv32k3,flatten", "--memory-limit", "100K");
        Assert.True(spec.ExitCode == 1, spec.ToString());
        Assert.Contains("above the memory limit of 100 KB", spec.Err, StringComparison.Ordinal);
        Assert.Contains("raise the limit with --memory-limit", spec.Err, StringComparison.Ordinal);

        CliHarness.Succeeds("summary", "--model", path, "--memory-limit", "1G");
        var bad = CliHarness.Run("summary", "--model", path, "--memory-limit", "lots");
        Assert.True(bad.ExitCode == 1, bad.ToString());
        Assert.Equal("error: --memory-limit needs a size such as 8G, 512M or a byte count, got 'lots'", bad.Err.TrimEnd());
        // The option applied only to its own runs.
        Assert.Equal(MemoryBudget.DefaultLimit, MemoryBudget.Limit);
    }

    [Fact]
    public void Training_refuses_a_batch_whose_buffers_exceed_the_limit_before_allocating_them()
    {
        using var model = new Sequential(Shape.Image(28, 28, 1), seed: 1, threads: 1);
        model.Add(new Conv2D(8, 3)).Add(new Flatten()).Add(new Dense(10));
        long parameters = MemoryBudget.ParameterBytes(model.ParameterCount, 0);
        long batch64 = MemoryBudget.BufferBytes(model.Layers, model.InputShape, 64);
        // Evaluate sizes the layers' batch buffers as training does (Predict's inference plan works 16 images at a time).
        var data = new Dataset(new byte[64 * 784], new byte[64], Shape.Image(28, 28, 1));
        using (MemoryBudget.Use(parameters + batch64 - 1))
        {
            var e = Assert.Throws<ModelTooLargeException>(() => model.Evaluate(data, batchSize: 64));
            Assert.True(e.AboveLimit);
            Assert.Contains("a batch of 64", e.Message, StringComparison.Ordinal);
        }
        using (MemoryBudget.Use(parameters + batch64))
        {
            Assert.True(double.IsFinite(model.Evaluate(data, batchSize: 64).Loss));
        }
    }

    [Theory]
    [InlineData("8G", 8L << 30)]
    [InlineData("512M", 512L << 20)]
    [InlineData("1.5GB", 3L << 29)]
    [InlineData("64KiB", 64L << 10)]
    [InlineData("1000", 1000L)]
    [InlineData("0", null)]
    [InlineData("-1G", null)]
    [InlineData("G", null)]
    [InlineData("9999999999T", null)]
    public void Sizes_parse_in_powers_of_1024(string text, long? bytes) => Assert.Equal(bytes, MemoryBudget.ParseSize(text));

    /// <summary>Runs the built CLI under a 2 GB heap ceiling; its peak resident memory in bytes.</summary>
    private static (CliResult Result, long PeakBytes) RunCliMeasured(string workingDirectory, params string[] args)
    {
        var (result, peakKb) = ChildProcess.RunCli(workingDirectory, new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = "0x80000000" }, args);
        Assert.True(peakKb > 0, "could not read the child's peak memory");
        return (result, peakKb * 1024);
    }
}
