using Convnet.IO;
using System.Text.RegularExpressions;
using Convnet.Data;
using Convnet.Tests.Data;
using Convnet.Tests.Models;
using Xunit;
using App = Convnet.Cli.Cli;

namespace Convnet.Tests.Cli;

/// <summary>What one in-process run of the command line returned and printed.</summary>
internal sealed record CliResult(int ExitCode, string Out, string Err)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Out}\n--- stderr ---\n{Err}";
}

/// <summary>Runs <c>convnet</c> in this process with captured output, and makes small inputs for it.</summary>
internal static class CliHarness
{
    /// <summary>Options that keep training tiny: one epoch, small batches, no validation split.</summary>
    public static readonly string[] TinyTraining = ["--epochs", "1", "--batch-size", "16", "--validation-split", "0", "--threads", "1"];

    /// <summary><see cref="TinyTraining"/> with some options given other values: <c>"--epochs", "0"</c>, ...</summary>
    public static string[] Tiny(params string[] overrides)
    {
        var options = new List<string>(overrides);
        for (int i = 0; i < TinyTraining.Length; i += 2)
        {
            if (!overrides.Contains(TinyTraining[i]))
            {
                options.Add(TinyTraining[i]);
                options.Add(TinyTraining[i + 1]);
            }
        }
        return [.. options];
    }

    public static CliResult Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = App.Run(args, output, error);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    /// <summary>Runs and asserts exit code 0 and an empty stderr.</summary>
    public static CliResult Succeeds(params string[] args)
    {
        var result = Run(args);
        Assert.True(result.ExitCode == 0 && result.Err.Length == 0, $"convnet {string.Join(' ', args)}\n{result}");
        return result;
    }

    /// <summary>60 synthetic labelled digits, 6 of each class 0-9.</summary>
    public static Dataset Digits(int count = 60, ulong seed = 7) => SyntheticDigits.Create(count, seed);

    /// <summary>Writes <see cref="Digits"/> as a labelled (or unlabelled) Kaggle CSV.</summary>
    public static string WriteDigits(TempDir dir, string name, bool labelled = true, int count = 60, ulong seed = 7)
    {
        string path = dir.File(name);
        if (labelled)
        {
            KaggleCsv.WriteLabelled(path, Digits(count, seed));
        }
        else
        {
            KaggleCsv.WriteUnlabelled(path, Digits(count, seed));
        }
        return path;
    }

    /// <summary>Trains the reference model on <see cref="Digits"/> through the command line.</summary>
    /// <param name="extra">Options pairs that replace or add to <see cref="TinyTraining"/>.</param>
    public static string TrainModel(TempDir dir, string name = "model.safetensors", params string[] extra)
    {
        string csv = WriteDigits(dir, Path.GetFileNameWithoutExtension(name) + "-train.csv");
        string model = dir.File(name);
        Succeeds(["train", csv, "--model", model, .. Tiny(extra)]);
        return model;
    }

    /// <summary>The folder holding Convnet.sln, found by walking up from the test assembly.</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Convnet.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"no Convnet.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>Same tensors and the same metadata but for wall-clock timings (a model's or each ensemble member's).</summary>
    public static void AssertSameModel(string first, string second)
    {
        var (tensorsA, metadataA) = SafeTensors.Read(first);
        var (tensorsB, metadataB) = SafeTensors.Read(second);
        Assert.Equal(tensorsA, tensorsB);
        Assert.Equal(WithoutTimings(metadataA), WithoutTimings(metadataB));
    }

    private static SortedDictionary<string, string> WithoutTimings(IReadOnlyDictionary<string, string> metadata)
    {
        var result = new SortedDictionary<string, string>();
        foreach (var (key, value) in metadata)
        {
            // An ensemble file keeps a member's own timings under "member<k>.".
            string own = key[(key.IndexOf('.', StringComparison.Ordinal) + 1)..];
            if (own == "train_seconds")
            {
                continue;
            }
            result[key] = own == "history" ? Regex.Replace(value, "\"seconds\":[^,}]*", "") : value;
        }
        return result;
    }
}

/// <summary>A model trained once through the command line and shared by the tests of a class.</summary>
public sealed class TrainedModelFixture : IDisposable
{
    private readonly TempDir _dir = new();

    public TrainedModelFixture() => Path = CliHarness.TrainModel(_dir);

    public string Path { get; }

    public void Dispose() => _dir.Dispose();
}
