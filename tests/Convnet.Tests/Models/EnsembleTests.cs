using Convnet.Data;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Optimizers;
using Convnet.Runtime;
using Convnet.Tensors;
using Convnet.Tests.Support;
using Xunit;

namespace Convnet.Tests.Models;

/// <summary>An ensemble predicts the mean of its members' probabilities, in member order.</summary>
public class EnsembleTests
{
    /// <summary>Small BatchNormalization/Dropout models with different seeds (so different weights), 28×28×1 → 10.</summary>
    internal static List<Sequential> Members(int count, ulong firstSeed = 1) =>
        [.. Enumerable.Range(0, count).Select(k => KerasLayerModelTests.Create(seed: firstSeed + (ulong)k))];

    /// <summary>Random pixels in random order: no pattern any model could have learned.</summary>
    internal static Dataset RandomImages(int count, ulong seed, bool labelled = true)
    {
        var rng = new Rng(seed);
        var pixels = new byte[count * 784];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)rng.NextInt(256);
        }
        byte[]? labels = labelled ? [.. Enumerable.Range(0, count).Select(_ => (byte)rng.NextInt(10))] : null;
        return new Dataset(pixels, labels, Shape.Image(28, 28, 1));
    }

    [Fact]
    public void Predict_is_the_mean_of_the_members_predictions_summed_in_member_order()
    {
        var data = RandomImages(37, seed: 3);
        using var ensemble = new Ensemble(Members(3));
        var p = ensemble.Members.Select(m => m.Predict(data)).ToArray();
        var expected = new float[p[0].Length];
        for (int i = 0; i < expected.Length; i++)
        {
            expected[i] = (p[0][i] + p[1][i] + p[2][i]) / 3f;
        }

        Numerics.AssertBitEqual(expected, ensemble.Predict(data), "ensemble probabilities");
        Numerics.AssertBitEqual(expected, ensemble.Predict(data, batchSize: 5), "ensemble probabilities in batches of 5");

        // The float path (one image at a time, already scaled) gives the same bits as the dataset path.
        var x = new float[784];
        for (int i = 0; i < data.Count; i += 6)
        {
            Convnet.Kernels.Elementwise.BytesToUnit(data.Image(i), x);
            Numerics.AssertBitEqual(expected.AsSpan(i * 10, 10), ensemble.Predict(x), $"sample {i} alone");
        }
        int[] classes = ensemble.PredictClasses(data);
        for (int i = 0; i < data.Count; i++)
        {
            Assert.Equal(Classifier.ArgMax(expected.AsSpan(i * 10, 10)), classes[i]);
        }
        // The members really differ, or the mean would prove nothing.
        Assert.NotEqual(p[0], p[1]);
    }

    [Fact]
    public void An_ensemble_of_one_predicts_and_scores_as_its_member()
    {
        var data = RandomImages(40, seed: 4);
        using var ensemble = new Ensemble(Members(1, firstSeed: 7));
        var member = ensemble.Members[0];

        Numerics.AssertBitEqual(member.Predict(data), ensemble.Predict(data), "probabilities");
        Assert.Equal(member.PredictClasses(data), ensemble.PredictClasses(data));
        var (memberLoss, memberAccuracy) = member.Evaluate(data);
        var (loss, accuracy) = ensemble.Evaluate(data);
        Assert.Equal(memberAccuracy, accuracy);
        // Cross-entropy of the softmax probabilities vs the member's fused log-softmax of the logits.
        Assert.Equal(memberLoss, loss, 1e-5);
        Assert.Equal(ensemble.Members[0].ParameterCount, ensemble.ParameterCount);
    }

    [Fact]
    public void Evaluate_scores_the_mean_probabilities_and_clamps_a_zero_one_as_keras_does()
    {
        // Two one-layer models on 2 inputs; input (1, 0) scores logits (±w, ∓w).
        Sequential Member(float w)
        {
            var model = new Sequential(Shape.Vector(2), seed: 0, threads: 1);
            model.Add(new Dense(2)).Add(new Softmax());
            model.SetWeights([w, -w, 0, 0, 0, 0]); // kernel [in 2, out 2], then bias
            return model;
        }
        var data = new Dataset([255, 0], [1], Shape.Vector(2));

        // Both members certain of class 0: p(1) is exactly 0, clamped to 1e-7.
        using (var certain = new Ensemble([Member(200), Member(300)]))
        {
            Assert.Equal(0f, certain.Predict(data)[1]);
            var (loss, accuracy) = certain.Evaluate(data);
            Assert.Equal(-Math.Log(1e-7), loss, 1e-9);
            Assert.Equal(0, accuracy);
        }

        // One member certain of class 0 and one of class 1: the mean is (½, ½), loss log 2, and the tie goes to class 0.
        using var split = new Ensemble([Member(200), Member(-200)]);
        Assert.Equal(new[] { 0.5f, 0.5f }, split.Predict(data));
        var (splitLoss, splitAccuracy) = split.Evaluate(data);
        Assert.Equal(Math.Log(2), splitLoss, 1e-9);
        Assert.Equal(0, splitAccuracy);
    }

    [Fact]
    public void A_member_without_a_final_softmax_contributes_probabilities()
    {
        var data = RandomImages(12, seed: 5);
        using var ensemble = new Ensemble(Members(1).Append(WithoutSoftmax(seed: 2)));
        var logits = ensemble.Members[1].Predict(data);
        var probabilities = new float[logits.Length];
        Convnet.Kernels.Softmax.Forward(logits, data.Count, 10, probabilities);
        var first = ensemble.Members[0].Predict(data);
        var expected = first.Zip(probabilities, (a, b) => (a + b) / 2f).ToArray();

        Numerics.AssertBitEqual(expected, ensemble.Predict(data), "mean of probabilities");
        Assert.All(Enumerable.Range(0, data.Count), i => Assert.Equal(1f, ensemble.Predict(data).AsSpan(i * 10, 10).ToArray().Sum(), 1e-5f));
    }

    [Fact]
    public void Members_must_agree_on_input_shape_and_classes()
    {
        var empty = Assert.Throws<ArgumentException>(() => new Ensemble([]));
        Assert.Contains("at least one member", empty.Message);

        var smaller = new Sequential(Shape.Image(14, 14, 1), seed: 1, threads: 1);
        smaller.Add(new Flatten()).Add(new Dense(10)).Add(new Softmax());
        var shape = Assert.Throws<ArgumentException>(() => new Ensemble([.. Members(1), smaller]));
        Assert.Contains("Member 1 takes (14, 14, 1)", shape.Message);
        Assert.Contains("member 0 takes (28, 28, 1)", shape.Message);

        var fewer = new Sequential(Shape.Image(28, 28, 1), seed: 1, threads: 1);
        fewer.Add(new Flatten()).Add(new Dense(5)).Add(new Softmax());
        var classes = Assert.Throws<ArgumentException>(() => new Ensemble([.. Members(2), fewer]));
        Assert.Contains("Member 2 scores 5 classes but member 0 scores 10", classes.Message);

        var one = KerasLayerModelTests.Create();
        var twice = Assert.Throws<ArgumentException>(() => new Ensemble([one, one]));
        Assert.Contains("Member 1 is the same model as member 0", twice.Message);
    }

    [Fact]
    public void Summary_lists_the_members_the_total_and_each_distinct_architecture()
    {
        using var same = new Ensemble(Members(2));
        string summary = same.Summary();
        Assert.StartsWith("Ensemble of 2 models", summary);
        Assert.Contains(" member0 ", summary);
        Assert.Contains(" member1 ", summary);
        // Two members of 11,122 values each (11,082 trainable).
        Assert.Contains("Total params: 22,244", summary);
        Assert.Contains("Trainable params: 22,164", summary);
        Assert.Equal(22_164, same.ParameterCount);
        Assert.Contains("Every member has the architecture of member0", summary);
        Assert.Contains(same.Members[0].Summary(), summary);

        using var mixed = new Ensemble(Members(1).Append(WithoutSoftmax(seed: 3)));
        string mixedSummary = mixed.Summary();
        Assert.Contains("member1:", mixedSummary);
        Assert.Contains(mixed.Members[1].Summary(), mixedSummary);
    }

    private static Sequential WithoutSoftmax(ulong seed)
    {
        var model = new Sequential(Shape.Image(28, 28, 1), seed, threads: 1);
        model.Add(new Conv2D(2, 3)).Add(new ReLU()).Add(new MaxPooling2D(2)).Add(new Flatten()).Add(new Dense(10));
        return model;
    }

    /// <summary>Members trained for an epoch, so BatchNormalization's moving statistics are not their initial values.</summary>
    internal static List<Sequential> TrainedMembers(int count)
    {
        var data = SyntheticDigits.Create(32, seed: 6);
        var members = Members(count);
        foreach (var member in members)
        {
            member.Compile(new Adam());
            member.Fit(data, epochs: 1, batchSize: 16, seed: member.Seed);
        }
        return members;
    }
}
