using Convnet.Data;
using Convnet.IO;
using Convnet.Saving;
using Convnet.Tensors;
using Convnet.Tests.Data;
using Convnet.Tests.Models;
using Xunit;

namespace Convnet.Tests.Cli;

/// <summary><c>convnet train --from MODEL</c>: fine-tuning a saved model, and its refusals.</summary>
public class CliTrainFromTests
{
    [Fact]
    public void Train_from_a_model_of_the_same_classes_keeps_every_layer_and_records_the_file()
    {
        using var dir = new TempDir();
        string start = CliHarness.TrainModel(dir, "start.safetensors", "--arch", "simple");
        string csv = CliHarness.WriteDigits(dir, "more.csv", seed: 9);
        string tuned = dir.File("tuned.safetensors");
        var result = CliHarness.Succeeds(["train", csv, "--from", start, "--model", tuned, .. CliHarness.TinyTraining]);
        Assert.Contains($"Starting from {start}: every layer's weights.", result.Out);
        var (_, metadata) = SafeTensors.Read(tuned);
        Assert.Equal("start.safetensors", metadata["from"]);
        Assert.Equal(SafeTensors.ReadMetadata(start)["architecture"], metadata["architecture"]);

        // --arch naming the same layers is accepted (it brings simple's settings: its augmentation turned off and the
        // default recipe's label smoothing given), and gives the same weights as leaving it out.
        string named = dir.File("named.safetensors");
        CliHarness.Succeeds(["train", csv, "--from", start, "--arch", "simple", "--augment", "none", "--label-smoothing", "0.1", "--model", named, .. CliHarness.TinyTraining]);
        Assert.Equal(SafeTensors.Read(tuned).Tensors.Select(t => t.Data), SafeTensors.Read(named).Tensors.Select(t => t.Data));
        Assert.NotEqual(SafeTensors.Read(start).Tensors.Select(t => t.Data), SafeTensors.Read(named).Tensors.Select(t => t.Data));
    }

    [Fact]
    public void Train_from_a_model_of_other_classes_says_the_last_Dense_starts_from_the_seed()
    {
        using var dir = new TempDir();
        string start = CliHarness.TrainModel(dir, "start.safetensors", "--arch", "simple");
        var digits = CliHarness.Digits(60, seed: 9);
        var keep = Enumerable.Range(0, digits.Count).Where(i => digits.Labels![i] < 4).ToArray();
        var pixels = keep.SelectMany(i => digits.Pixels.AsSpan(i * 784, 784).ToArray()).ToArray();
        string csv = dir.File("four.csv");
        KaggleCsv.WriteLabelled(csv, new Dataset(pixels, [.. keep.Select(i => digits.Labels![i])], Shape.Image(28, 28, 1)));
        string tuned = dir.File("tuned.safetensors");
        var result = CliHarness.Succeeds(["train", csv, "--from", start, "--model", tuned, "--seed", "5", .. CliHarness.TinyTraining]);
        Assert.Contains($"Starting from {start}: every layer's weights but the last Dense, which scores 4 classes instead of 10 and starts from --seed 5.", result.Out);
        var (model, _) = ModelFile.Load(tuned, threads: 1);
        using (model)
        {
            Assert.Equal(4, model.Classes);
        }
    }

    [Fact]
    public void Train_an_ensemble_from_one_model_starts_every_member_from_it()
    {
        using var dir = new TempDir();
        string start = CliHarness.TrainModel(dir, "start.safetensors", "--arch", "simple");
        string csv = CliHarness.WriteDigits(dir, "more.csv", seed: 9);
        string ensemble = dir.File("ensemble.safetensors");
        var result = CliHarness.Succeeds(["train", csv, "--from", start, "--ensemble", "2", "--model", ensemble, .. CliHarness.TinyTraining]);
        Assert.Contains($"Starting from {start}: every layer's weights.", result.Out);
        var (tensors, metadata) = SafeTensors.Read(ensemble);
        Assert.Equal("2", metadata["ensemble"]);
        Assert.Equal("start.safetensors", metadata["from"]);
        // Same start, other seeds for the shuffling: the members differ after their epoch.
        Assert.NotEqual(tensors.First(t => t.Name == "member0.0.weight").Data, tensors.First(t => t.Name == "member1.0.weight").Data);
    }

    [Fact]
    public void Train_from_refuses_an_ensemble_another_arch_other_images_and_a_missing_file_leaving_the_model_alone()
    {
        using var dir = new TempDir();
        string start = CliHarness.TrainModel(dir, "start.safetensors", "--arch", "simple");
        string csv = CliHarness.WriteDigits(dir, "more.csv", seed: 9);
        string target = dir.Write("target.safetensors", [1, 2, 3]);

        void Refused(string expected, params string[] args)
        {
            var result = CliHarness.Run(["train", .. args, "--model", target, .. CliHarness.TinyTraining]);
            Assert.Equal(1, result.ExitCode);
            Assert.Equal($"error: {expected}", result.Err.TrimEnd());
            Assert.Equal([1, 2, 3], File.ReadAllBytes(target));
        }

        string ensemble = dir.File("ensemble.safetensors");
        using (var a = ReferenceModel.Create(seed: 1))
        using (var b = ReferenceModel.Create(seed: 2))
        {
            ModelFile.SaveEnsemble([a, b], ensemble);
        }
        Refused($"--from '{ensemble}' is an ensemble of 2 models; it takes one model (--ensemble 2 trains that many from one model)", csv, "--from", ensemble);
        Refused($"--arch general differs from the architecture of --from '{start}' (conv32k3-relu,maxpool2,conv64k3-relu,maxpool2,flatten,dense128-relu,dense10-softmax); leave --arch out to train the file's", csv, "--from", start, "--arch", "general");

        string small = dir.File("small.csv");
        KaggleCsv.WriteLabelled(small, new Dataset(new byte[20 * 400], [.. Enumerable.Range(0, 20).Select(i => (byte)(i % 2))], Shape.Image(20, 20, 1)));
        Refused($"--from '{start}' takes images of 28×28×1 but {small} holds 20×20×1", small, "--from", start);

        string missing = dir.File("missing.safetensors");
        var result = CliHarness.Run(["train", csv, "--from", missing, "--model", target, .. CliHarness.TinyTraining]);
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"error: {missing}", result.Err);
        Assert.DoesNotContain("Exception", result.Err);
    }
}
