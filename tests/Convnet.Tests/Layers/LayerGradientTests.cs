using Convnet.Kernels;
using Convnet.Layers;
using Convnet.Runtime;
using Convnet.Tensors;
using Convnet.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Convnet.Tests.Layers;

/// <summary>
/// Every layer's Backward against central finite differences of its own Forward, for the loss
/// L = Σ r ⊙ y with a random fixed r (so dL/dy = r), over random shapes and inputs. The input
/// gradient and every parameter gradient are checked (all coordinates of small tensors, 128
/// random ones of larger ones); see <see cref="GradientCheck"/> for the tolerance.
/// </summary>
public class LayerGradientTests
{
    internal delegate void Fill(ref Rng rng, Span<float> values);

    /// <summary>Sizes of the layer tests: odd, so strided windows and "same" padding split unevenly.</summary>
    private static readonly int[] OddSizes = [3, 5, 7, 9];

    private static Gen<int> OddSize(int min) => Gen.Elements(OddSizes.Where(s => s >= min).ToArray());

    private static Gen<int> Seeds => Gen.Choose(0, int.MaxValue);

    // Dense and Conv2D are affine in any single input or weight coordinate, so a central difference
    // has no truncation error whatever the step; a large step shrinks the rounding term u·S/h. With
    // h = 0.5 that term is ≈ 16·6e-8·S/0.5 ≈ 2e-6·S, against gradients of order 0.1–10.
    private const double AffineStep = 0.5;

    // ReLU, MaxPooling2D and Flatten only copy or select values: no rounding at all, and the inputs are
    // generated more than h away from any kink, so the difference quotient is exact up to the
    // double-precision sum of L.
    private const double SelectionStep = 1e-2;

    public sealed record ConvCase(int Kernel, int Stride, Padding Padding, int Batch, int Height, int Width, int Channels, int Filters, int Seed);

    private static Gen<ConvCase> ConvCases =>
        from kernel in Gen.Choose(1, 5)
        from stride in Gen.Choose(1, 2)
        from padding in Gen.Elements(Padding.Valid, Padding.Same)
        from height in OddSize(padding == Padding.Same ? 3 : kernel)
        from width in OddSize(padding == Padding.Same ? 3 : kernel)
        from channels in Gen.Choose(1, 8)
            // 8 and 16 with up to 3 channels: the direct path of first layers (Conv2D.TrainsDirectly).
        from filters in Gen.Elements(1, 2, 3, 5, 7, 8, 16)
        from batch in Gen.Choose(1, 4)
        from seed in Seeds
        select new ConvCase(kernel, stride, padding, batch, height, width, channels, filters, seed);

    [Property(MaxTest = 30)]
    public Property Conv2D_input_kernel_and_bias_gradients_match_finite_differences()
        => Prop.ForAll(ConvCases.ToArbitrary(), c =>
        {
            var layer = new Conv2D(c.Filters, c.Kernel, c.Stride, c.Padding);
            var g = ConvGeometry.Create(c.Height, c.Width, c.Channels, c.Kernel, c.Stride, c.Padding == Padding.Same);
            // A_j = Σ|x|·|w| + |b| over output j's receptive field: the direct convolution of the absolute values.
            double[] TermSums(Tensor x)
            {
                var absKernel = Numerics.Abs(layer.Kernel.Value);
                var absBias = Numerics.Abs(layer.Bias.Value);
                var sums = new double[x.Batch * layer.OutputShape.Size];
                var sample = new float[layer.OutputShape.Size];
                for (int n = 0; n < x.Batch; n++)
                {
                    Convolution.ForwardScalar(Numerics.Abs(x.Sample(n)), absKernel, absBias, g, c.Filters, sample);
                    for (int j = 0; j < sample.Length; j++)
                    {
                        sums[n * sample.Length + j] = sample[j];
                    }
                }
                return sums;
            }
            CheckLayer(layer, Shape.Image(c.Height, c.Width, c.Channels), c.Batch, c.Seed, Uniform, AffineStep, TermSums, 0, c.ToString());
        });

    public sealed record DenseCase(int Inputs, int Units, int Batch, int Seed);

    [Property(MaxTest = 40)]
    public Property Dense_input_kernel_and_bias_gradients_match_finite_differences()
    {
        var cases =
            from inputs in Gen.Choose(1, 20)
            from units in Gen.Choose(1, 20)
            from batch in Gen.Choose(1, 4)
            from seed in Seeds
            select new DenseCase(inputs, units, batch, seed);
        return Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var layer = new Dense(c.Units);
            // A_j = Σ_k |x_k|·|W_kj| + |b_j|.
            double[] TermSums(Tensor x)
            {
                var w = layer.Kernel.Value;
                var b = layer.Bias.Value;
                var sums = new double[x.Batch * c.Units];
                for (int n = 0; n < x.Batch; n++)
                {
                    var xn = x.Sample(n);
                    for (int j = 0; j < c.Units; j++)
                    {
                        double s = Math.Abs(b[j]);
                        for (int k = 0; k < c.Inputs; k++)
                        {
                            s += Math.Abs(xn[k]) * Math.Abs(w[k * c.Units + j]);
                        }
                        sums[n * c.Units + j] = s;
                    }
                }
                return sums;
            }
            CheckLayer(layer, Shape.Vector(c.Inputs), c.Batch, c.Seed, Uniform, AffineStep, TermSums, 0, c.ToString());
        });
    }

    public sealed record PoolCase(int Pool, int Stride, int Batch, int Height, int Width, int Channels, int Seed);

    [Property(MaxTest = 40)]
    public Property MaxPooling2D_input_gradient_matches_finite_differences()
    {
        var cases =
            from pool in Gen.Choose(1, 3)
            from stride in Gen.Choose(1, 3)
            from height in OddSize(3)
            from width in OddSize(3)
            from channels in Gen.Choose(1, 8)
            from batch in Gen.Choose(1, 4)
            from seed in Seeds
            select new PoolCase(pool, stride, batch, height, width, channels, seed);
        return Prop.ForAll(cases.ToArbitrary(), c =>
        {
            // Distinct values 10·h apart: a ±h step never changes which input wins a window.
            static void Spread(ref Rng rng, Span<float> x) => Numerics.ScaledPermutation(ref rng, x, (float)(10 * SelectionStep));
            CheckLayer(new MaxPooling2D(c.Pool, c.Stride), Shape.Image(c.Height, c.Width, c.Channels), c.Batch, c.Seed, Spread, SelectionStep, null, 0, c.ToString());
        });
    }

    [Property(MaxTest = 40)]
    public Property AveragePooling2D_input_gradient_matches_finite_differences()
    {
        var cases =
            from pool in Gen.Choose(1, 3)
            from stride in Gen.Choose(1, 3)
            from height in OddSize(3)
            from width in OddSize(3)
            from channels in Gen.Choose(1, 8)
            from batch in Gen.Choose(1, 4)
            from seed in Seeds
            select new PoolCase(pool, stride, batch, height, width, channels, seed);
        return Prop.ForAll(cases.ToArbitrary(), c =>
        {
            // Linear in x: no truncation error. y_j is a k²-term sum scaled by 1/k²: A_j = Σ_window |x|.
            var layer = new AveragePooling2D(c.Pool, c.Stride);
            double[] TermSums(Tensor x)
            {
                var abs = new Tensor(x.Shape, x.Batch);
                Numerics.Abs(x.Span).CopyTo(abs.Span);
                using var pool = new WorkerPool(1);
                var twin = new AveragePooling2D(c.Pool, c.Stride);
                twin.Build(x.Shape, new LayerContext(pool, new ParameterStore(), 0, 0));
                return twin.Forward(abs, training: false).Span.ToArray().Select(v => (double)v * c.Pool * c.Pool).ToArray();
            }
            CheckLayer(layer, Shape.Image(c.Height, c.Width, c.Channels), c.Batch, c.Seed, Uniform, AffineStep, TermSums, 0, c.ToString());
        });
    }

    [Property(MaxTest = 40)]
    public Property GlobalAveragePooling2D_input_gradient_matches_finite_differences()
        => Prop.ForAll(ShapeCases(imagesOnly: true).ToArbitrary(), c =>
        {
            // Linear in x; A_j = Σ_{h,w} |x[h, w, j]|, the H·W-term sum before the scaling.
            double[] TermSums(Tensor x)
            {
                int channels = c.Channels;
                var sums = new double[x.Batch * channels];
                var span = x.Span;
                for (int i = 0; i < span.Length; i++)
                {
                    sums[i / c.Shape.Size * channels + i % channels] += Math.Abs(span[i]);
                }
                return sums;
            }
            CheckLayer(new GlobalAveragePooling2D(), c.Shape, c.Batch, c.Seed, Uniform, AffineStep, TermSums, 0, c.ToString());
        });

    public sealed record ShapeCase(bool Image, int Height, int Width, int Channels, int Batch, int Seed)
    {
        public Shape Shape => Image ? Shape.Image(Height, Width, Channels) : Shape.Vector(Channels);
    }

    private static Gen<ShapeCase> ShapeCases(bool imagesOnly) =>
        from image in imagesOnly ? Gen.Constant(true) : Gen.Elements(true, false)
        from height in Gen.Choose(1, 9)
        from width in Gen.Choose(1, 9)
        from channels in image ? Gen.Choose(1, 8) : Gen.Choose(1, 40)
        from batch in Gen.Choose(1, 4)
        from seed in Seeds
        select new ShapeCase(image, height, width, channels, batch, seed);

    [Property(MaxTest = 40)]
    public Property ReLU_input_gradient_matches_finite_differences()
        => Prop.ForAll(ShapeCases(imagesOnly: false).ToArbitrary(), c =>
        {
            // |x| ≥ 2h: a ±h step never crosses the kink at 0.
            static void AwayFromKink(ref Rng rng, Span<float> x) => Numerics.AwayFromZero(ref rng, x, (float)(2 * SelectionStep));
            CheckLayer(new ReLU(), c.Shape, c.Batch, c.Seed, AwayFromKink, SelectionStep, null, 0, c.ToString());
        });

    [Property(MaxTest = 40)]
    public Property Flatten_input_gradient_matches_finite_differences()
        => Prop.ForAll(ShapeCases(imagesOnly: true).ToArbitrary(), c =>
            CheckLayer(new Flatten(), c.Shape, c.Batch, c.Seed, Uniform, SelectionStep, null, 0, c.ToString()));

    public sealed record SoftmaxCase(int Classes, int Batch, int Seed);

    [Property(MaxTest = 40)]
    public Property Softmax_backward_is_the_jacobian_vector_product()
    {
        var cases =
            from classes in Gen.Choose(1, 20)
            from batch in Gen.Choose(1, 4)
            from seed in Seeds
            select new SoftmaxCase(classes, batch, seed);
        return Prop.ForAll(cases.ToArbitrary(), c =>
        {
            // Smooth, so the step trades truncation against rounding. h = 1e-2:
            // - truncation h²/6·|∂³L/∂x_i³| with ∂³L/∂x_i³ = Σ_j r_j ∂³y_j/∂x_i³; here ∂³y_i/∂x_i³ =
            //   y_i(1−y_i)(1−6y_i+6y_i²) and ∂³y_j/∂x_i³ = −y_j·y_i(1−6y_i+6y_i²) for j ≠ i, so
            //   Σ_j |∂³y_j/∂x_i³| ≤ 1/4 + 1 and with |r| ≤ 1 the bound is 1.25·h²/6 ≈ 2e-5;
            // - rounding: each y_j = exp(x_j − max) / Σ exp has a relative error of a few u
            //   (subtraction, exp, the sum, the division), so A_j = 4·y_j; with Σ y = 1 per row the
            //   atol term is ≤ 16·u·4/h ≈ 4e-4 at worst and ≈ 2e-4 typically, against entries
            //   y_i(r_i − ⟨r, y⟩) of order 1e-2–1e-1.
            const double h = 1e-2;
            var layer = new Convnet.Layers.Softmax();
            double[] TermSums(Tensor x)
            {
                var y = layer.Forward(x, training: true).Span;
                var sums = new double[y.Length];
                for (int j = 0; j < y.Length; j++)
                {
                    sums[j] = 4.0 * y[j];
                }
                return sums;
            }
            static void Logits(ref Rng rng, Span<float> x) => Numerics.Uniform(ref rng, x, -2, 2);
            CheckLayer(layer, Shape.Vector(c.Classes), c.Batch, c.Seed, Logits, h, TermSums, 1.25 * h * h / 6, c.ToString());
        });
    }

    /// <summary>
    /// Builds <paramref name="layer"/> alone, runs Forward and Backward with dy = r, and checks dx and
    /// every parameter's gradient by finite differences; then checks that parameter gradients accumulate.
    /// </summary>
    internal static void CheckLayer(Layer layer, Shape input, int batch, int seed, Fill fillInput, double h, Func<Tensor, double[]>? termSums, double truncation, string context,
        bool training = true, Action<Layer>? afterBuild = null)
    {
        using var pool = new WorkerPool(1);
        var store = new ParameterStore();
        layer.Build(input, new LayerContext(pool, store, (ulong)seed, 0));
        layer.EnsureCapacity(batch);
        var rng = new Rng((ulong)seed);
        foreach (var p in layer.Parameters)
        {
            if (p.Shape.Length == 1)
            {
                // Biases start at 0; make them random so they take part in the output and the term sums.
                Numerics.Uniform(ref rng, p.Value, -0.5f, 0.5f);
            }
        }
        afterBuild?.Invoke(layer);
        var x = new Tensor(input, batch);
        fillInput(ref rng, x.Span);

        var y = layer.Forward(x, training);
        Assert.Equal(batch, y.Batch);
        var r = Numerics.Uniform(ref rng, y.Span.Length);
        var dy = new Tensor(layer.OutputShape, batch);
        r.CopyTo(dy.Span);
        var sums = termSums?.Invoke(x);

        store.ZeroGradients();
        var dx = layer.Backward(dy);
        Assert.NotNull(dx);
        Assert.Equal(batch, dx.Batch);
        Assert.Equal(input, dx.Shape);
        var inputGradient = dx.Span.ToArray();
        var parameterGradients = store.Gradients.ToArray();

        Tensor Forward() => layer.Forward(x, training);
        GradientCheck.AssertMatches("x", x.Data, 0, inputGradient, Forward, r, sums, h, truncation, ref rng, context);
        foreach (var p in layer.Parameters)
        {
            GradientCheck.AssertMatches(p.Name, store.Values, p.Offset, parameterGradients.AsSpan(p.Offset, p.Length), Forward, r, sums, h, truncation, ref rng, context);
        }

        if (layer.Parameters.Count > 0)
        {
            AssertGradientsAccumulate(layer, store, x, dy, context, training);
        }
    }

    /// <summary>
    /// A second Backward for the same Forward, without ZeroGradients, must add the same gradient
    /// again: the result is 2× the first, and the returned input gradient is unchanged. Exactness is
    /// not required: when the batch reduction sums more than KC = 256 rows, the GEMM adds the new
    /// product to the stored gradient block by block, (g + p₁) + p₂ instead of g + (p₁ + p₂), a few
    /// roundings of relative size u = 6e-8; the tolerance 1e-5·(|2g_i| + max|g|) covers that.
    /// </summary>
    private static void AssertGradientsAccumulate(Layer layer, ParameterStore store, Tensor x, Tensor dy, string context, bool training)
    {
        store.ZeroGradients();
        layer.Forward(x, training);
        var dx = layer.Backward(dy)!.Span.ToArray();
        var once = store.Gradients.ToArray();
        Numerics.AssertBitEqual(dx, layer.Backward(dy)!.Span, $"{context}: input gradient of a second Backward");
        var twice = store.Gradients;
        double largest = Numerics.MaxAbs(once);
        for (int i = 0; i < once.Length; i++)
        {
            double expected = 2.0 * once[i];
            double tolerance = 1e-5 * (Math.Abs(expected) + largest);
            if (!(Math.Abs(twice[i] - expected) <= tolerance))
            {
                Assert.Fail($"{context}: parameter gradient {i} after two Backward calls is {twice[i]:R}, expected 2 × {once[i]:R}.");
            }
        }
    }

    internal static void Uniform(ref Rng rng, Span<float> values) => Numerics.Uniform(ref rng, values);
}
