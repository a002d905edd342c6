using Convnet.IO;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Optimizers;
using Convnet.Tensors;
using Convnet.Tests.Data;
using Convnet.Tests.Support;
using Xunit;
using Convnet.Saving;

namespace Convnet.Tests.Models;

/// <summary>Models built from the Keras-style layers: summary counts, save/load round trips, training.</summary>
public class KerasLayerModelTests
{
    /// <summary>Conv-BN-ReLU-Dropout-Pool … Dense-BN-ReLU-Dropout-Dense-Softmax on 28×28×1.</summary>
    internal static Sequential Create(ulong seed = 1, int threads = 1)
    {
        var model = new Sequential(Shape.Image(28, 28, 1), seed, threads);
        model.Add(new Conv2D(4, 3)).Add(new BatchNormalization()).Add(new ReLU()).Add(new Dropout(0.25f)).Add(new MaxPooling2D(2))
            .Add(new Flatten()).Add(new Dense(16)).Add(new BatchNormalization(momentum: 0.9f, epsilon: 1e-5f)).Add(new ReLU()).Add(new Dropout(0.5f))
            .Add(new Dense(10)).Add(new Softmax());
        return model;
    }

    [Fact]
    public void Summary_counts_moving_statistics_as_non_trainable()
    {
        using var model = Create();
        // Conv 3·3·1·4 + 4 = 40, BN 2·4 + 2·4, Dense 13·13·4·16 + 16 = 10 832, BN 2·16 + 2·16, Dense 16·10 + 10 = 170.
        Assert.Equal(40 + 8 + 10_832 + 32 + 170, model.ParameterCount);
        Assert.Equal(8 + 32, model.NonTrainableParameterCount);
        string summary = model.Summary();
        Assert.Contains("Total params: 11,122", summary);
        Assert.Contains("Trainable params: 11,082", summary);
        Assert.Contains("Non-trainable params: 40", summary);
        Assert.Contains("batch_normalization (BatchNormalization)", summary);
        Assert.Contains("dropout_1 (Dropout)", summary);
    }

    [Fact]
    public void A_trained_model_round_trips_through_the_model_file_with_its_moving_statistics()
    {
        var data = SyntheticDigits.Create(64, seed: 2);
        using var model = Create(seed: 5);
        model.Compile(new Adam());
        model.Fit(data, epochs: 1, batchSize: 16, seed: 1);
        var bn = (BatchNormalization)model.Layers[1];
        Assert.NotEqual(0f, bn.MovingMean[0]);

        using var dir = new TempDir();
        string path = dir.File("model.safetensors");
        model.Save(path);
        var (tensors, _) = SafeTensors.Read(path);
        Assert.Contains(tensors, t => t.Name == "1.running_mean" && t.Shape.SequenceEqual([4]));
        Assert.Contains(tensors, t => t.Name == "7.running_var" && t.Shape.SequenceEqual([16]));
        Assert.Contains(tensors, t => t.Name == "7.weight");

        using var loaded = ModelFile.Load(path, threads: 1).Model;
        Assert.Equal(ModelFile.ArchitectureJson(model), ModelFile.ArchitectureJson(loaded));
        Numerics.AssertBitEqual(model.GetWeights(), loaded.GetWeights(), "weights and state");
        Numerics.AssertBitEqual(model.Predict(data), loaded.Predict(data), "predictions");
    }

    [Fact]
    public void A_model_with_average_pooling_round_trips_through_the_model_file()
    {
        using var model = new Sequential(Shape.Image(12, 12, 1), seed: 3, threads: 1);
        model.Add(new Conv2D(3, 3)).Add(new AveragePooling2D(2, 1)).Add(new Conv2D(5, 3)).Add(new GlobalAveragePooling2D())
            .Add(new Dropout(0.1f)).Add(new Dense(10)).Add(new Softmax());
        Assert.Equal(Shape.Vector(5), model.Layers[3].OutputShape);
        using var dir = new TempDir();
        string path = dir.File("pool.safetensors");
        model.Save(path);
        using var loaded = ModelFile.Load(path, threads: 1).Model;
        Assert.Equal(ModelFile.ArchitectureJson(model), ModelFile.ArchitectureJson(loaded));
        Assert.Contains("\"type\":\"AveragePooling2D\",\"pool_size\":\"2\",\"stride\":\"1\"", ModelFile.ArchitectureJson(loaded));
        var x = new float[3 * 144];
        var rng = new Convnet.Runtime.Rng(1);
        Numerics.Uniform(ref rng, x);
        Numerics.AssertBitEqual(model.Predict(x), loaded.Predict(x), "predictions");
    }

    [Fact]
    public void Label_smoothing_is_reachable_from_Compile_and_raises_the_loss_of_a_confident_model()
    {
        var data = SyntheticDigits.Create(50, seed: 6);
        using var model = Create(seed: 4);
        model.Compile(new Adam(learningRate: 1e-2f));
        model.Fit(data, epochs: 3, batchSize: 25, seed: 2);
        var (plain, _) = model.Evaluate(data);
        model.Compile(new Adam(), new Convnet.Losses.SparseCategoricalCrossentropy(labelSmoothing: 0.2f));
        Assert.Equal(0.2f, model.Loss!.LabelSmoothing);
        var (smoothed, _) = model.Evaluate(data);
        // Smoothing mixes in the uniform target: −Σ q log p with q = 0.82 on the label and 0.02 elsewhere
        // is larger than −log p_label once p_label is near 1 (the off-label log-probabilities are very negative).
        Assert.True(smoothed > plain, $"smoothed {smoothed} vs plain {plain}");
    }

    [Fact]
    public void Training_with_dropout_and_batch_normalization_is_thread_count_independent()
    {
        var data = SyntheticDigits.Create(80, seed: 4);
        float[] Train(int threads)
        {
            using var model = Create(seed: 9, threads: threads);
            model.Compile(new Adam());
            model.Fit(data, epochs: 1, batchSize: 40, seed: 4);
            return model.GetWeights();
        }
        Numerics.AssertBitEqual(Train(1), Train(2), "weights after one epoch");
    }
}
