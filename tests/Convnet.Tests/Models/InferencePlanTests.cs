using Convnet.Architecture;
using Convnet.Data;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Optimizers;
using Convnet.Runtime;
using Convnet.Tensors;
using Xunit;

namespace Convnet.Tests.Models;

/// <summary>
/// Predict's inference plan (fused stages, Winograd, prepacked weights) against the layer-by-layer
/// pass it replaces (the model with fusion off), on the recipes and on layer orders the plan handles
/// in other ways; its bits for any thread count and batch; and its rebuilding when weights change.
/// </summary>
public class InferencePlanTests
{
    /// <summary>A model's weights with every BatchNormalization's moving statistics and γ, β away from their initial 1 and 0, so the affine matters.</summary>
    private static void Perturb(Sequential model, ulong seed)
    {
        var weights = model.GetWeights();
        var rng = new Rng(seed);
        for (int i = 0; i < weights.Length; i++)
        {
            // Kernels keep their scale; BN's γ = 1 and moving variance = 1 become 0.5–1.5, β and mean 0 ± 0.2.
            weights[i] = weights[i] == 1 ? rng.NextFloat(0.5f, 1.5f) : weights[i] == 0 ? rng.NextFloat(-0.2f, 0.2f) : weights[i];
        }
        model.SetWeights(weights);
    }

    private static float[] PredictLayerByLayer(Sequential model, Dataset data)
    {
        model.FusionEnabled = false;
        var exact = model.Predict(data);
        model.FusionEnabled = true;
        return exact;
    }

    public static TheoryData<string, string> Models => new()
    {
        { "simple", "conv2d_1 + re_lu_1 + max_pooling2d_1 (Winograd 2×2)" },
        { "strong", "conv2d_1 + re_lu_1 + batch_normalization_1 (Winograd 4×4)" },
        { "general", "conv2d_2 + re_lu_2 + batch_normalization_1 (Winograd 4×4)" },
        // BN without ReLU and ReLU on its own, an odd Winograd map (23×23) without a pool, a 3×3 stride-2
        // pool after im2col, "same" padding with a stride, a vector BN.
        { "conv8k4-bn-relu,conv16k3,conv16k3,maxpool3s2,conv16k3s2same-relu,flatten,dense32-bn-relu", "conv2d_1 (Winograd 4×4)" },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Predict_agrees_with_the_layer_by_layer_pass(string arch, string stage)
    {
        var data = SyntheticDigits.Create(37, seed: 5);
        using var model = Architectures.Create(arch, data.SampleShape, 10, seed: 3, threads: 2);
        Perturb(model, seed: 9);
        var stages = model.InferenceStages;
        Assert.NotNull(stages);
        Assert.Contains(stage, stages);
        var fast = model.Predict(data);
        var exact = PredictLayerByLayer(model, data);
        Assert.Equal(exact.Length, fast.Length);
        double worst = 0;
        for (int i = 0; i < exact.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(exact[i] - fast[i]));
        }
        // Probabilities: the ONNX checks allow 1e-4 against ONNX Runtime; the plan stays well inside.
        Assert.True(worst < 1e-5, $"{arch}: largest difference {worst}");
        Assert.NotEqual(exact.Select(BitConverter.SingleToInt32Bits), fast.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void The_recipes_fuse_as_planned()
    {
        using var simple = Architectures.Create("simple", Shape.Image(28, 28, 1), 10, seed: 1);
        Assert.Equal(
            ["conv2d + re_lu + max_pooling2d (direct)", "conv2d_1 + re_lu_1 + max_pooling2d_1 (Winograd 2×2)", "dense + re_lu_2", "dense_1", "softmax"],
            simple.InferenceStages);
        using var strong = Architectures.Create("strong", Shape.Image(28, 28, 1), 10, seed: 1);
        Assert.Equal(
            ["conv2d + re_lu + batch_normalization (direct)", "conv2d_1 + re_lu_1 + batch_normalization_1 (Winograd 4×4)", "conv2d_2 + re_lu_2 + batch_normalization_2 (phases, Winograd 2×2)",
             "conv2d_3 + re_lu_3 + batch_normalization_3 (Winograd 4×4)", "conv2d_4 + re_lu_4 + batch_normalization_4 (Winograd 4×4)", "conv2d_5 + re_lu_5 + batch_normalization_5 (phases, Winograd 2×2)",
             "conv2d_6 + re_lu_6 + batch_normalization_6", "dense", "softmax"],
            strong.InferenceStages);
    }

    [Theory]
    [InlineData("simple")]
    [InlineData("strong")]
    public void Predict_gives_the_same_bits_for_any_thread_count_and_batch(string arch)
    {
        var data = SyntheticDigits.Create(70, seed: 6);
        float[] Run(int threads)
        {
            using var model = Architectures.Create(arch, data.SampleShape, 10, seed: 4, threads: threads);
            Perturb(model, seed: 2);
            return model.Predict(data);
        }
        var one = Run(1);
        var two = Run(2);
        Assert.Equal(one.Select(BitConverter.SingleToInt32Bits), two.Select(BitConverter.SingleToInt32Bits));

        using var model = Architectures.Create(arch, data.SampleShape, 10, seed: 4, threads: 2);
        Perturb(model, seed: 2);
        var x = new float[784];
        foreach (int i in new[] { 0, 17, 33, 69 })
        {
            Convnet.Kernels.Elementwise.BytesToUnit(data.Image(i), x);
            var alone = model.Predict(x);
            Assert.Equal(one.AsSpan(i * 10, 10).ToArray().Select(BitConverter.SingleToInt32Bits), alone.Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Theory]
    [InlineData("simple")]
    [InlineData("strong")]
    [InlineData("general")]
    [InlineData("conv8k4-bn-relu,conv16k3,conv16k3,maxpool3s2,conv16k3s2same-relu,flatten,dense32-bn-relu")]
    public void One_image_split_over_two_threads_gives_the_bits_of_one_thread(string arch)
    {
        var data = SyntheticDigits.Create(5, seed: 8);
        var x = new float[784];
        float[] Run(int threads, int image)
        {
            using var model = Architectures.Create(arch, data.SampleShape, 10, seed: 4, threads: threads);
            Perturb(model, seed: 2);
            Convnet.Kernels.Elementwise.BytesToUnit(data.Image(image), x);
            // Many calls, so that the two threads race for the parts in different orders.
            var first = model.Predict(x);
            for (int i = 0; i < 20; i++)
            {
                Assert.Equal(first, model.Predict(x));
            }
            return first;
        }
        for (int image = 0; image < data.Count; image++)
        {
            Assert.Equal(Run(1, image).Select(BitConverter.SingleToInt32Bits), Run(2, image).Select(BitConverter.SingleToInt32Bits));
        }
    }

    // 5×5 and 6×6 stride-2 convolutions (Winograd over the input's phases): "same" and "valid", even
    // and odd inputs, channels off the 8-float vector (3 input channels: 12 phase channels, the scalar
    // transforms), with a fused ReLU, BN or pool.
    public static TheoryData<string, string> StrideTwoModels => new()
    {
        { "conv12k3,conv20k5s2same-relu-bn,flatten", "conv2d_1 + re_lu + batch_normalization (phases, Winograd 2×2)" },
        { "conv12k2,conv20k5s2-relu-bn,flatten", "conv2d_1 + re_lu + batch_normalization (phases, Winograd 2×2)" },
        { "conv6k4,conv16k6s2same-bn-relu,flatten", "conv2d_1 + batch_normalization (phases, Winograd 2×2)" },
        { "conv10k3,conv16k6s2,flatten", "conv2d_1 (phases, Winograd 2×2)" },
        { "conv12k3,conv16k5s2same-relu,maxpool2,flatten", "conv2d_1 + re_lu + max_pooling2d (phases, Winograd 2×2)" },
        { "conv3k3,conv12k5s2same-relu,flatten", "conv2d_1 + re_lu (phases, Winograd 2×2)" },
    };

    [Theory]
    [MemberData(nameof(StrideTwoModels))]
    public void Stride_2_convolutions_over_phases_agree_with_the_layers_and_keep_their_bits(string arch, string stage)
    {
        var data = SyntheticDigits.Create(37, seed: 5);
        float[] Fast(int threads, out float[] exact, out IReadOnlyList<string>? stages, out float[][] alone)
        {
            using var model = Architectures.Create(arch, data.SampleShape, 10, seed: 3, threads: threads);
            Perturb(model, seed: 9);
            stages = model.InferenceStages;
            var fast = model.Predict(data);
            // Batch 1 (split over the threads when there are two).
            var x = new float[784];
            alone = new float[3][];
            for (int i = 0; i < alone.Length; i++)
            {
                Convnet.Kernels.Elementwise.BytesToUnit(data.Image(11 * i), x);
                alone[i] = model.Predict(x);
            }
            exact = PredictLayerByLayer(model, data);
            return fast;
        }
        var one = Fast(1, out var exact, out var stages, out var aloneOne);
        Assert.NotNull(stages);
        Assert.Contains(stage, stages);
        double worst = 0;
        for (int i = 0; i < exact.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(exact[i] - one[i]));
        }
        Assert.True(worst < 1e-5, $"{arch}: largest difference {worst}");
        Assert.NotEqual(exact.Select(BitConverter.SingleToInt32Bits), one.Select(BitConverter.SingleToInt32Bits));

        var two = Fast(2, out _, out _, out var aloneTwo);
        Assert.Equal(one.Select(BitConverter.SingleToInt32Bits), two.Select(BitConverter.SingleToInt32Bits));
        for (int i = 0; i < aloneOne.Length; i++)
        {
            var batched = one.AsSpan(11 * i * 10, 10).ToArray().Select(BitConverter.SingleToInt32Bits);
            Assert.Equal(batched, aloneOne[i].Select(BitConverter.SingleToInt32Bits));
            Assert.Equal(batched, aloneTwo[i].Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void The_plan_follows_the_weights_through_SetWeights_and_training()
    {
        var data = SyntheticDigits.Create(32, seed: 7);
        using var model = ReferenceModel.Create(seed: 1, threads: 1);
        var before = model.Predict(data);
        var weights = model.GetWeights();
        var doubled = weights.Select(w => 2 * w).ToArray();
        model.SetWeights(doubled);
        var after = model.Predict(data);
        Assert.Equal(PredictLayerByLayer(model, data), after, new ToleranceComparer(1e-5f));
        Assert.NotEqual(before, after);

        model.SetWeights(weights);
        Assert.Equal(before, model.Predict(data));
        model.Compile(new Adam());
        model.Fit(data, epochs: 1, batchSize: 16, seed: 1);
        Assert.Equal(PredictLayerByLayer(model, data), model.Predict(data), new ToleranceComparer(1e-5f));
    }

    [Fact]
    public void A_layer_without_a_stage_leaves_Predict_layer_by_layer()
    {
        var data = SyntheticDigits.Create(8, seed: 3);
        using var model = Architectures.Create("conv8k3-leakyrelu0.1,maxpool2,flatten", data.SampleShape, 10, seed: 1);
        Assert.Null(model.InferenceStages);
        Assert.Equal(80, model.Predict(data).Length);
    }

    private sealed class ToleranceComparer(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(float obj) => 0;
    }
}
