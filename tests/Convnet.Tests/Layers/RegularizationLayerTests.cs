using Convnet.Layers;
using Convnet.Runtime;
using Convnet.Tensors;
using Convnet.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Convnet.Tests.Layers;

/// <summary>Dropout and BatchNormalization: behaviour, and gradients by the shared finite-difference harness.</summary>
public class RegularizationLayerTests
{
    private static (T Layer, WorkerPool Pool) Build<T>(T layer, Shape input, int batch, ulong seed = 3, long step = 1) where T : Layer
    {
        var pool = new WorkerPool(1);
        layer.Build(input, new LayerContext(pool, new ParameterStore(), seed, 2) { TrainingStep = step });
        layer.EnsureCapacity(batch);
        return (layer, pool);
    }

    private static Tensor Random(Shape shape, int batch, ulong seed, float low = -1, float high = 1)
    {
        var x = new Tensor(shape, batch);
        var rng = new Rng(seed);
        Numerics.Uniform(ref rng, x.Span, low, high);
        return x;
    }

    [Fact]
    public void Dropout_zeroes_about_rate_of_the_values_and_scales_the_rest_by_1_over_1_minus_rate()
    {
        var (layer, pool) = Build(new Dropout(0.3f), Shape.Vector(1000), 100);
        using var _ = pool;
        var x = Random(Shape.Vector(1000), 100, 1, 0.5f, 2);
        var y = layer.Forward(x, training: true).Span;
        int zeros = 0;
        float scale = 1 / (1 - 0.3f);
        for (int i = 0; i < y.Length; i++)
        {
            if (y[i] == 0)
            {
                zeros++;
            }
            else
            {
                Assert.Equal(x.Span[i] * scale, y[i]);
            }
        }
        // 100 000 Bernoulli(0.3) draws: σ of the fraction ≈ 0.0014; 0.01 is seven σ.
        Assert.InRange(zeros / 100_000.0, 0.29, 0.31);
    }

    [Fact]
    public void Dropout_is_the_identity_at_inference_and_its_mask_depends_on_the_step_not_the_call()
    {
        var shape = Shape.Image(4, 4, 2);
        var (layer, pool) = Build(new Dropout(0.5f), shape, 20);
        using var _ = pool;
        var x = Random(shape, 20, 2);
        Numerics.AssertBitEqual(x.Span, layer.Forward(x, training: false).Span, "inference output");
        var first = layer.Forward(x, training: true).Span.ToArray();
        Numerics.AssertBitEqual(first, layer.Forward(x, training: true).Span, "same step, second call");

        var (other, pool2) = Build(new Dropout(0.5f), shape, 20, step: 2);
        using var __ = pool2;
        Assert.False(first.AsSpan().SequenceEqual(other.Forward(x, training: true).Span), "a new step must draw a new mask");

        // The input gradient uses the forward mask: dx = dy ⊙ mask.
        var dy = Random(shape, 20, 9);
        var dx = layer.Backward(dy)!.Span;
        for (int i = 0; i < dx.Length; i++)
        {
            Assert.Equal(dy.Span[i] * layer.Mask[i], dx[i]);
        }
    }

    [Property(MaxTest = 20)]
    public Property Dropout_gradient_matches_finite_differences_with_a_fixed_mask()
        => Prop.ForAll(Gen.Choose(0, int.MaxValue).ToArbitrary(), seed =>
        {
            // y = x·mask is linear in x: no truncation error, and A_j = |y_j| covers the rounding of the product.
            var layer = new Dropout(0.4f);
            static double[] TermSums(Tensor x) => new double[x.Span.Length].Select((_, j) => 2.0 * Math.Abs(x.Span[j]) * 2).ToArray();
            LayerGradientTests.CheckLayer(layer, Shape.Image(3, 5, 2), 1 + seed % 4, seed, LayerGradientTests.Uniform, 0.5, TermSums, 0, $"seed {seed}");
        });

    public sealed record NormCase(bool Image, int Height, int Width, int Channels, int Batch, int Seed)
    {
        public Shape Shape => Image ? Shape.Image(Height, Width, Channels) : Shape.Vector(Channels);
    }

    private static Gen<NormCase> NormCases =>
        from image in Gen.Elements(true, false)
        from height in Gen.Choose(1, 5)
        from width in Gen.Choose(1, 5)
        from channels in Gen.Choose(1, 6)
        from batch in Gen.Choose(1, 4)
        where (image ? batch * height * width : batch) >= 4
        from seed in Gen.Choose(0, int.MaxValue)
        select new NormCase(image, height, width, channels, batch, seed);

    // Rounding: y_j = γ·(x_j − μ)·(1/σ) + β rounds a few times relative to
    // A_j = |γ|·(|x_j| + |μ|)/σ + |β| (μ and σ are computed in double, so their own error is
    // negligible); a step in x_i moves μ and σ and so every output of its channel, which the harness
    // counts as affected. The factor 4 covers the subtraction, the two products and the sum.
    private static double[] NormTermSums(BatchNormalization layer, Tensor x, bool training)
    {
        int c = layer.InputShape.Channels;
        var span = x.Span;
        var mean = new double[c];
        var variance = new double[c];
        int rows = span.Length / c;
        for (int j = 0; j < span.Length; j++)
        {
            mean[j % c] += span[j] / (double)rows;
        }
        for (int j = 0; j < span.Length; j++)
        {
            variance[j % c] += (span[j] - mean[j % c]) * (span[j] - mean[j % c]) / rows;
        }
        var sums = new double[span.Length];
        for (int j = 0; j < sums.Length; j++)
        {
            int k = j % c;
            double mu = training ? mean[k] : layer.MovingMean[k];
            double v = training ? variance[k] : layer.MovingVariance[k];
            sums[j] = 4 * (Math.Abs(layer.Gamma.Value[k]) * (Math.Abs(span[j]) + Math.Abs(mu)) / Math.Sqrt(v + layer.Epsilon) + Math.Abs(layer.Beta.Value[k]));
        }
        return sums;
    }

    [Property(MaxTest = 30)]
    public Property BatchNormalization_training_gradients_match_finite_differences()
        => Prop.ForAll(NormCases.ToArbitrary(), c =>
        {
            // Smooth in x: with at least 4 rows per channel of U(−1, 1) values σ is rarely below 0.2,
            // and h = 1e-3 keeps the truncation h²/6·|∂³L/∂x³| (terms of size Σ|r|·γ/σ³·1/M) below 1e-4.
            var layer = new BatchNormalization();
            LayerGradientTests.CheckLayer(layer, c.Shape, c.Batch, c.Seed, LayerGradientTests.Uniform, 1e-3, x => NormTermSums(layer, x, true), 1e-4, c.ToString());
        });

    [Property(MaxTest = 30)]
    public Property BatchNormalization_inference_gradients_match_finite_differences()
        => Prop.ForAll(NormCases.ToArbitrary(), c =>
        {
            // Inference is affine in x, γ and β: no truncation error, so the affine step.
            var layer = new BatchNormalization();
            void Moving(Layer l)
            {
                var rng = new Rng((ulong)c.Seed + 1);
                Numerics.Uniform(ref rng, layer.MovingMean, -0.5f, 0.5f);
                Numerics.Uniform(ref rng, layer.MovingVariance, 0.2f, 2f);
            }
            LayerGradientTests.CheckLayer(layer, c.Shape, c.Batch, c.Seed, LayerGradientTests.Uniform, 0.5, x => NormTermSums(layer, x, false), 0, c.ToString(), training: false, afterBuild: Moving);
        });

    [Fact]
    public void BatchNormalization_normalizes_per_channel_and_updates_the_moving_statistics()
    {
        // Two samples of a 1×2×2 image: channel 0 holds 1, 2, 3, 4 (μ = 2.5, σ² = 1.25),
        // channel 1 holds 10 everywhere (μ = 10, σ² = 0).
        var shape = Shape.Image(1, 2, 2);
        var (layer, pool) = Build(new BatchNormalization(momentum: 0.9f), shape, 2);
        using var _ = pool;
        var x = new Tensor(shape, 2);
        float[] values = [1, 10, 2, 10, 3, 10, 4, 10];
        values.CopyTo(x.Span);
        var y = layer.Forward(x, training: true).Span;
        double s = Math.Sqrt(1.25 + 1e-3);
        double[] expected = [-1.5 / s, 0, -0.5 / s, 0, 0.5 / s, 0, 1.5 / s, 0];
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(expected[i], y[i], 6);
        }
        // moving ← 0.9·moving + 0.1·batch, from mean 0 and variance 1.
        Assert.Equal(0.25, layer.MovingMean[0], 6);
        Assert.Equal(1.0, layer.MovingMean[1], 6);
        Assert.Equal(0.9 + 0.125, layer.MovingVariance[0], 6);
        Assert.Equal(0.9, layer.MovingVariance[1], 6);

        // Inference uses the moving statistics: (x − 0.25)/√(1.025 + 1e-3).
        var z = layer.Forward(x, training: false).Span;
        Assert.Equal((1 - 0.25) / Math.Sqrt(1.025 + 1e-3), z[0], 6);
    }

    [Fact]
    public void Invalid_hyperparameters_name_the_argument()
    {
        Assert.Equal("rate", Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(1f)).ParamName);
        Assert.Equal("momentum", Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNormalization(momentum: 1.5f)).ParamName);
        Assert.Equal("epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNormalization(epsilon: 0)).ParamName);
    }
}
