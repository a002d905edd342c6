using Convnet.Architecture;
using Convnet.Data;
using Convnet.IO;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Saving;
using Convnet.Tensors;
using Convnet.Tests.Data;
using Convnet.Tests.Models;
using Convnet.Training;
using Xunit;

namespace Convnet.Tests.Training;

/// <summary>Starting a run from a model file's weights (TrainingSettings.From, Sequential.ForClasses): what <c>train --from</c> calls.</summary>
public class TrainFromTests
{
    /// <summary>Six classes of the synthetic digits (labels 0-5).</summary>
    private static Dataset SixClasses(int count, ulong seed)
    {
        var all = SyntheticDigits.Create(count * 10 / 6 + 10, seed);
        var keep = Enumerable.Range(0, all.Count).Where(i => all.Labels![i] < 6).Take(count).ToArray();
        var pixels = new byte[keep.Length * 784];
        var labels = new byte[keep.Length];
        for (int i = 0; i < keep.Length; i++)
        {
            all.Pixels.AsSpan(keep[i] * 784, 784).CopyTo(pixels.AsSpan(i * 784));
            labels[i] = all.Labels![keep[i]];
        }
        return new Dataset(pixels, labels, all.SampleShape);
    }

    /// <summary>A trained reference model saved in <paramref name="dir"/> (one epoch on synthetic digits, so its weights are not a fresh model's).</summary>
    private static string TrainedFile(TempDir dir, out float[] weights)
    {
        string path = dir.File("start.safetensors");
        using var run = new Trainer(TrainingSettings.For("simple") with { Epochs = 1, ValidationSplit = 0, Seed = 7, Threads = 1, Augmentation = Augmentation.None })
            .Train(SyntheticDigits.Create(160, seed: 3));
        run.Model.Save(path, run.Metadata);
        weights = run.Model.GetWeights();
        return path;
    }

    [Fact]
    public void ForClasses_with_the_same_count_copies_every_weight_and_the_class_names()
    {
        using var source = ReferenceModel.Create(seed: 3);
        source.ClassNames = [.. Enumerable.Range(0, 10).Select(i => $"c{i}")];
        using var copy = source.ForClasses(10, seed: 99, threads: 1);
        Assert.Equal(source.GetWeights(), copy.GetWeights());
        Assert.True(copy.HasSameArchitecture(source));
        Assert.Equal(source.ClassNames, copy.ClassNames);
        Assert.Equal(99UL, copy.Seed);
    }

    [Fact]
    public void ForClasses_with_another_count_keeps_all_but_the_last_Dense_which_is_a_fresh_models_for_the_seed()
    {
        using var source = ReferenceModel.Create(seed: 3);
        source.ClassNames = [.. Enumerable.Range(0, 10).Select(i => $"c{i}")];
        using var copy = source.ForClasses(6, seed: 99, threads: 1);
        using var fresh = Architectures.Create("simple", source.InputShape, 6, seed: 99, threads: 1);
        Assert.True(copy.HasSameArchitecture(fresh));
        Assert.Null(copy.ClassNames);
        int head = copy.Layers.Count - 2; // dense_1, then softmax
        Assert.IsType<Dense>(copy.Layers[head]);
        for (int i = 0; i < copy.Layers.Count; i++)
        {
            var expected = (i == head ? fresh : source).Layers[i].SaveOwnTensors();
            var actual = copy.Layers[i].SaveOwnTensors();
            Assert.Equal(expected.Length, actual.Length);
            for (int t = 0; t < expected.Length; t++)
            {
                Assert.Equal(expected[t], actual[t]);
            }
        }
        // The fresh head differs from the source's (another shape) and from another seed's.
        using var other = source.ForClasses(6, seed: 100, threads: 1);
        Assert.NotEqual(copy.Layers[head].SaveOwnTensors()[0], other.Layers[head].SaveOwnTensors()[0]);
    }

    [Fact]
    public void ForClasses_refuses_another_count_without_a_Dense_or_with_weights_after_it()
    {
        using var noDense = new Sequential(Shape.Image(8, 8, 1), seed: 1, threads: 1);
        noDense.Add(new Conv2D(4, 3)).Add(new GlobalAveragePooling2D()).Add(new Softmax());
        var e = Assert.Throws<ArgumentException>(() => noDense.ForClasses(3, seed: 1));
        Assert.Contains("no Dense layer", e.Message);

        using var bnAfter = new Sequential(Shape.Image(8, 8, 1), seed: 1, threads: 1);
        bnAfter.Add(new Flatten()).Add(new Dense(4)).Add(new BatchNormalization()).Add(new Softmax());
        e = Assert.Throws<ArgumentException>(() => bnAfter.ForClasses(3, seed: 1));
        Assert.Contains("after the last Dense has weights", e.Message);
    }

    [Fact]
    public void A_run_from_a_file_starts_from_its_weights_and_records_it()
    {
        using var dir = new TempDir();
        string path = TrainedFile(dir, out var weights);
        var settings = TrainingSettings.ForModel(path) with { Epochs = 1, ValidationSplit = 0, Threads = 1 };
        var data = SyntheticDigits.Create(64, seed: 5);
        using var run = new Trainer(settings).Start(data, null, 10, seed: 11, threads: 1);
        Assert.Equal(weights, run.Model.GetWeights());
        Assert.Equal("start.safetensors", run.Metadata["from"]);
        Assert.Equal(path, run.Metadata["arch"]);
        Assert.Equal(Architectures.Simple.Spec + ",dense10-softmax", run.Metadata["arch_spec"]);

        // The same with --arch naming the file's layers.
        using var named = new Trainer(TrainingSettings.For("simple") with { From = path, Threads = 1 }).Start(data, null, 10, seed: 11, threads: 1);
        Assert.Equal(weights, named.Model.GetWeights());
    }

    [Fact]
    public void A_run_from_a_file_of_another_class_count_replaces_only_the_last_Dense()
    {
        using var dir = new TempDir();
        string path = TrainedFile(dir, out _);
        var (source, _) = ModelFile.Load(path, threads: 1);
        using (source)
        {
            var data = SixClasses(60, seed: 5);
            using var run = new Trainer(TrainingSettings.ForModel(path) with { ValidationSplit = 0, Threads = 1 }).Train(data);
            Assert.Equal(6, run.Model.Classes);
            // Trained for an epoch: the copied layers moved from the file's weights.
            Assert.NotEqual(source.Layers[0].SaveOwnTensors()[0], run.Model.Layers[0].SaveOwnTensors()[0]);
            using var start = new Trainer(TrainingSettings.ForModel(path) with { Threads = 1 }).Start(data, null, 6, seed: 1, threads: 1);
            Assert.Equal(source.Layers[0].SaveOwnTensors()[0], start.Model.Layers[0].SaveOwnTensors()[0]);
            Assert.Equal(source.Layers[7].SaveOwnTensors()[0], start.Model.Layers[7].SaveOwnTensors()[0]);
            Assert.Equal(6, start.Model.Layers[9].SaveOwnTensors()[1].Length);
        }
    }

    [Fact]
    public void A_run_from_a_file_refuses_an_ensemble_another_architecture_and_other_images()
    {
        using var dir = new TempDir();
        string path = TrainedFile(dir, out _);
        var data = SyntheticDigits.Create(32, seed: 5);

        var e = Assert.Throws<ArchitectureSpecException>(() => new Trainer(TrainingSettings.For("general") with { From = path, Threads = 1 }).Start(data, null, 10, 1, 1));
        Assert.Contains("'general' is not the architecture of", e.Message);
        Assert.Contains("conv32k3-relu,maxpool2", e.Message);

        var small = new Dataset(new byte[4 * 20 * 20], new byte[4], Shape.Image(20, 20, 1));
        e = Assert.Throws<ArchitectureSpecException>(() => new Trainer(TrainingSettings.ForModel(path) with { Threads = 1 }).Start(small, null, 10, 1, 1));
        Assert.Contains("takes samples of", e.Message);

        string ensemble = dir.File("ensemble.safetensors");
        using (var a = ReferenceModel.Create(seed: 1))
        using (var b = ReferenceModel.Create(seed: 2))
        {
            ModelFile.SaveEnsemble([a, b], ensemble);
        }
        var f = Assert.Throws<ModelFormatException>(() => new Trainer(TrainingSettings.ForModel(ensemble) with { Threads = 1 }).Start(data, null, 10, 1, 1));
        Assert.Contains("an ensemble of 2 models", f.Message);
    }
}
