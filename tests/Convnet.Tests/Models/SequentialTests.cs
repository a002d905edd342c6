using Convnet.Tests.Support;
using Convnet.Models;
using Convnet.Optimizers;
using Xunit;
using Convnet.Architecture;

namespace Convnet.Tests.Models;

public class SequentialTests
{
    [Fact]
    public void Summary_of_reference_model_reports_225034_parameters()
    {
        using var model = ReferenceModel.Create();
        Assert.Equal(225_034, model.ParameterCount);
        string summary = model.Summary();
        Assert.Contains("Total params: 225,034", summary);
        Assert.Contains("conv2d_1 (Conv2D)", summary);
        Assert.Contains("(None, 5, 5, 64)", summary);
    }

    [Fact]
    public void Reference_model_fits_synthetic_patterns_to_full_training_accuracy()
    {
        var data = SyntheticDigits.Create(300, seed: 7);
        using var model = ReferenceModel.Create(seed: 3, threads: 2);
        model.Compile(new Adam());
        var history = model.Fit(data, epochs: 6, batchSize: 32, seed: 11);
        Assert.True(history.Loss[^1] < history.Loss[0] / 5, $"loss {string.Join(", ", history.Loss)}");
        var (_, accuracy) = model.Evaluate(data);
        Assert.Equal(1.0, accuracy);
    }

    [Fact]
    public void Fit_with_ema_trains_the_same_and_ends_with_the_moving_average_of_the_weights()
    {
        // The same model and seed with and without Keras's use_ema: training (losses, accuracies) is
        // the same step for step, and the EMA model ends with avg ← μₜ·avg + (1 − μₜ)·w, μₜ = min(0.9,
        // (t − 1)/(t + 8)), taken after every step t of the plain one (read through Fit's per-batch
        // progress), bit for bit.
        var data = SyntheticDigits.Create(120, seed: 6);
        using var plain = ReferenceModel.Create(seed: 2, threads: 2);
        plain.Compile(new Adam());
        float[]? average = null;
        int step = 0;
        var plainHistory = plain.Fit(data, epochs: 2, batchSize: 32, seed: 5, callbacks: [new AfterEachBatch(() =>
        {
            var w = plain.GetWeights();
            step++;
            average ??= new float[w.Length];
            Convnet.Kernels.OptimizerKernels.MovingAverageScalar(w, MathF.Min(0.9f, (step - 1f) / (step + 8f)), average);
        })]);

        using var averaged = ReferenceModel.Create(seed: 2, threads: 1);
        averaged.Compile(new Adam(emaMomentum: 0.9f));
        var averagedHistory = averaged.Fit(data, epochs: 2, batchSize: 32, seed: 5);

        Assert.Equal(plainHistory.Loss, averagedHistory.Loss);
        Assert.Equal(plainHistory.Accuracy, averagedHistory.Accuracy);
        Assert.NotNull(average);
        Support.Numerics.AssertBitEqual(average, averaged.GetWeights(), "EMA weights after Fit");
        Assert.NotEqual(plain.GetWeights(), averaged.GetWeights());
    }

    [Fact]
    public void One_and_two_threads_give_bit_identical_weights()
    {
        var data = SyntheticDigits.Create(200, seed: 5);
        float[] Train(int threads)
        {
            using var model = ReferenceModel.Create(seed: 9, threads: threads);
            model.Compile(new Adam());
            model.Fit(data, epochs: 1, batchSize: 64, seed: 4);
            var weights = new List<float>();
            foreach (var p in model.Parameters)
            {
                weights.AddRange(p.Value.ToArray());
            }
            return weights.ToArray();
        }
        var one = Train(1);
        var two = Train(2);
        Assert.Equal(one.Length, two.Length);
        for (int i = 0; i < one.Length; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(one[i]), BitConverter.SingleToInt32Bits(two[i]));
        }
    }

    [Theory]
    [InlineData("simple")]
    [InlineData("conv8k3-relu-bn,conv8k3s2same-relu-bn,drop0.2,flatten,dense16-relu-bn")]
    // A first layer trained through its pool image by image: a 25×25 map (a row and a column outside
    // the windows), and overlapping windows, which pool on their own.
    [InlineData("conv16k4-relu,maxpool2,conv8k3-relu,flatten")]
    [InlineData("conv16k3-relu,maxpool3s2,flatten")]
    // A Winograd convolution trained through its pool (`simple`'s second is another: an 11×11 map).
    [InlineData("conv16k3-relu,conv16k3-relu,maxpool2,flatten")]
    public void Fused_ReLU_layers_give_bit_identical_training_and_predictions(string arch)
    {
        var data = SyntheticDigits.Create(96, seed: 8);
        (float[] Weights, double Loss, double Accuracy) Train(bool fused)
        {
            using var model = Architectures.Create(arch, data.SampleShape, 10, seed: 2, threads: 2);
            model.FusionEnabled = fused;
            model.Compile(new Adam());
            model.Fit(data, epochs: 2, batchSize: 32, seed: 3);
            var weights = model.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();
            // Evaluate runs the layers' own forward passes (Predict's inference plan is compared in InferencePlanTests).
            var (loss, accuracy) = model.Evaluate(data);
            return (weights, loss, accuracy);
        }
        var fused = Train(fused: true);
        var plain = Train(fused: false);
        Assert.Equal(plain.Weights.Select(BitConverter.SingleToInt32Bits), fused.Weights.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(BitConverter.DoubleToInt64Bits(plain.Loss), BitConverter.DoubleToInt64Bits(fused.Loss));
        Assert.Equal(plain.Accuracy, fused.Accuracy);
    }

    [Fact]
    public void A_sample_gets_the_same_output_bits_alone_as_in_a_batch()
    {
        var data = SyntheticDigits.Create(40, seed: 12);
        using var model = ReferenceModel.Create(seed: 4, threads: 2);
        model.Compile(new Adam());
        model.Fit(data, epochs: 1, batchSize: 16, seed: 1);
        var batched = model.Predict(data);
        var x = new float[784];
        for (int i = 0; i < data.Count; i += 7)
        {
            Convnet.Kernels.Elementwise.BytesToUnit(data.Image(i), x);
            var alone = model.Predict(x);
            Assert.Equal(batched.AsSpan(i * 10, 10).ToArray().Select(BitConverter.SingleToInt32Bits), alone.Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void A_training_step_with_every_layer_kind_allocates_nothing_once_its_buffers_exist()
    {
        // Every registered layer, so the chunk dispatch in Layer and each layer's own passes are covered.
        var data = SyntheticDigits.Create(64, seed: 4);
        using var model = ArchitectureSpec.Build(
            "conv6k3-relu-bn,maxpool2,conv8k3same-leakyrelu0.1,avgpool2s1,drop0.25,conv4k1,gap,dense12-relu,flatten",
            data.SampleShape, 10, seed: 2, threads: 1);
        Assert.Equal(Convnet.Layers.LayerRegistry.Kinds.Select(k => k.TypeName).Order(), model.Layers.Select(l => l.TypeName).Distinct().Order());
        model.Compile(new Adam());
        int[] indices = [.. Enumerable.Range(0, 32)];
        model.TrainBatch(data, indices, out _);
        Assert.Equal(0, SteadyState.AllocatedBytes(() => model.TrainBatch(data, indices, out _)));
    }

    /// <summary>Runs an action after every training step.</summary>
    private sealed class AfterEachBatch(Action action) : Callback
    {
        public override void OnBatchEnd(in BatchLog log) => action();
    }
}
