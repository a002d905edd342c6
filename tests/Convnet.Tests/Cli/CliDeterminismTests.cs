using Convnet.Models;
using Convnet.Tests.Data;
using Xunit;
using Convnet.Saving;

namespace Convnet.Tests.Cli;

/// <summary>
/// The whole train path, from CSV to model file, is a function of the data and the seed: the
/// tensors and every metadata entry but the wall-clock timings are identical.
/// </summary>
public sealed class CliDeterminismTests
{
    [Fact]
    public void The_same_seed_gives_identical_model_files_but_for_timings()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv");
        string first = dir.File("first.safetensors"), second = dir.File("second.safetensors");

        CliHarness.Succeeds(["train", csv, "--model", first, .. CliHarness.Tiny("--seed", "5")]);
        CliHarness.Succeeds(["train", csv, "--model", second, .. CliHarness.Tiny("--seed", "5")]);

        CliHarness.AssertSameModel(first, second);
    }

    [Fact]
    public void The_thread_count_does_not_change_the_model_file()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv");
        string one = dir.File("one.safetensors"), two = dir.File("two.safetensors");

        // Two epochs with a validation split: shuffling, the split and validation all take part.
        CliHarness.Succeeds(["train", csv, "--model", one, .. CliHarness.Tiny("--threads", "1", "--epochs", "2", "--validation-split", "0.2")]);
        CliHarness.Succeeds(["train", csv, "--model", two, .. CliHarness.Tiny("--threads", "2", "--epochs", "2", "--validation-split", "0.2")]);

        CliHarness.AssertSameModel(one, two);
    }

    [Fact]
    public void A_different_seed_gives_different_weights()
    {
        using var dir = new TempDir();
        string csv = CliHarness.WriteDigits(dir, "train.csv");
        string a = dir.File("a.safetensors"), b = dir.File("b.safetensors");

        CliHarness.Succeeds(["train", csv, "--model", a, .. CliHarness.Tiny("--seed", "1")]);
        CliHarness.Succeeds(["train", csv, "--model", b, .. CliHarness.Tiny("--seed", "2")]);

        using var modelA = ModelFile.Load(a, threads: 1).Model;
        using var modelB = ModelFile.Load(b, threads: 1).Model;
        Assert.NotEqual(modelA.Parameters[0].Value.ToArray(), modelB.Parameters[0].Value.ToArray());
    }
}
