using Convnet.Kernels;
using Convnet.Runtime;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Convnet.Tests.Kernels;

/// <summary>
/// Space-to-depth: the block-copying kernel against its scalar twin bit for bit (whole images and
/// bands of rows), and the identity it serves: a stride-2 convolution of a 5×5 or 6×6 kernel equals
/// the 3×3 stride-1 "valid" convolution of the phase image with the phase kernel, both summed by
/// im2col and the scalar GEMM, within float rounding. Odd and even sizes, "same" and "valid".
/// </summary>
public class SpaceToDepthTests
{
    public sealed record PhaseCase(int Height, int Width, int Channels, int Filters, int Kernel, bool Same, int Seed);

    private static Arbitrary<PhaseCase> Cases =>
        (from height in Gen.Choose(6, 15)
         from width in Gen.Choose(6, 15)
         from channels in Gen.Elements(1, 3, 8, 12)
         from filters in Gen.Elements(1, 5, 8)
         from kernel in Gen.Elements(5, 6)
         from same in Gen.Elements(false, true)
         from seed in Gen.Choose(0, int.MaxValue)
         select new PhaseCase(height, width, channels, filters, kernel, same, seed)).ToArbitrary();

    [Property(MaxTest = 100)]
    public Property The_kernel_equals_its_scalar_twin_and_the_phase_convolution_the_stride_2_one()
        => Prop.ForAll(Cases, c =>
        {
            var rng = new Rng((ulong)c.Seed);
            var g = ConvGeometry.Create(c.Height, c.Width, c.Channels, c.Kernel, 2, c.Same);
            var (height, width) = SpaceToDepth.Size(g);
            int row = width * 4 * c.Channels;
            var x = Support.Numerics.Uniform(ref rng, c.Height * c.Width * c.Channels);
            var w = Support.Numerics.Uniform(ref rng, c.Kernel * c.Kernel * c.Channels * c.Filters);

            var phases = new float[height * row];
            var twin = new float[phases.Length];
            SpaceToDepth.Forward(x, g, 0, height, phases);
            SpaceToDepth.ForwardScalar(x, g, 0, height, twin);
            Support.Numerics.AssertBitEqual(twin, phases, $"phases {c}");
            // A band of rows, written from the start of its buffer.
            int first = c.Seed % height, rows = height - first;
            var band = new float[rows * row];
            SpaceToDepth.Forward(x, g, first, rows, band);
            Support.Numerics.AssertBitEqual(twin.AsSpan(first * row, rows * row), band, $"band {first}+{rows} {c}");

            var expected = Convolve(x, g, w, c.Filters);
            var pg = ConvGeometry.Create(height, width, 4 * c.Channels, 3, 1, same: false);
            Assert.Equal((g.OutHeight, g.OutWidth), (pg.OutHeight, pg.OutWidth));
            var phased = new float[9 * 4 * c.Channels * c.Filters];
            SpaceToDepth.TransformWeights(w, c.Kernel, c.Channels, c.Filters, phased);
            var actual = Convolve(phases, pg, phased, c.Filters);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * (1 + Math.Abs(expected[i])), $"{c}: output {i} {actual[i]} against {expected[i]}");
            }
        });

    /// <summary>
    /// Training's two adjoints: every input pixel an output reads has one place among the phases, so
    /// Backward after Forward gives x back bit for bit (0 for a pixel no output reads), and ⟨Forward(x), p⟩ = ⟨x, Backward(p)⟩; folding a phase
    /// kernel's gradient adds each tap's one place, so the fold of TransformWeights(w) adds w exactly.
    /// </summary>
    [Property(MaxTest = 100)]
    public Property Backward_and_the_kernel_gradient_fold_are_the_adjoints_of_the_forward_transforms()
        => Prop.ForAll(Cases, c =>
        {
            var rng = new Rng((ulong)c.Seed);
            var g = ConvGeometry.Create(c.Height, c.Width, c.Channels, c.Kernel, 2, c.Same);
            var (height, width) = SpaceToDepth.Size(g);
            var x = Support.Numerics.Uniform(ref rng, c.Height * c.Width * c.Channels);
            var phases = new float[height * width * 4 * c.Channels];
            SpaceToDepth.Forward(x, g, 0, height, phases);
            var back = new float[x.Length];
            SpaceToDepth.Backward(phases, g, back);
            // Pixels past the phase image (a 'valid' kernel's leftover row or column) come back as 0.
            var kept = x.ToArray();
            for (int i = 0; i < kept.Length; i++)
            {
                int pixel = i / c.Channels, py = pixel / c.Width + g.PadTop, px = pixel % c.Width + g.PadLeft;
                if (py / 2 >= height || px / 2 >= width)
                {
                    kept[i] = 0;
                }
            }
            Support.Numerics.AssertBitEqual(kept, back, $"Backward(Forward(x)) {c}");

            var p = Support.Numerics.Uniform(ref rng, phases.Length);
            SpaceToDepth.Backward(p, g, back);
            double left = 0, right = 0;
            for (int i = 0; i < phases.Length; i++)
            {
                left += (double)phases[i] * p[i];
            }
            for (int i = 0; i < x.Length; i++)
            {
                right += (double)x[i] * back[i];
            }
            Assert.True(Math.Abs(left - right) <= 1e-9 * (1 + Math.Abs(left)), $"{c}: ⟨Forward(x), p⟩ {left} against ⟨x, Backward(p)⟩ {right}");

            var w = Support.Numerics.Uniform(ref rng, c.Kernel * c.Kernel * c.Channels * c.Filters);
            var phased = new float[9 * 4 * c.Channels * c.Filters];
            SpaceToDepth.TransformWeights(w, c.Kernel, c.Channels, c.Filters, phased);
            var dw = new float[w.Length];
            SpaceToDepth.AccumulateKernelGradient(phased, c.Kernel, c.Channels, c.Filters, dw);
            Support.Numerics.AssertBitEqual(w, dw, $"fold of TransformWeights(w) {c}");
            SpaceToDepth.AccumulateKernelGradient(phased, c.Kernel, c.Channels, c.Filters, dw);
            for (int i = 0; i < w.Length; i++)
            {
                Assert.Equal(w[i] + w[i], dw[i]);
            }
        });

    /// <summary>
    /// The input gradient by phase: each phase's rows and columns that are pixels of x, scattered by
    /// ScatterPhase, write what Backward writes from the whole phase image, bit for bit; a pixel in
    /// no phase (past the phase image) is left as it was, where Backward writes 0.
    /// </summary>
    [Property(MaxTest = 100)]
    public Property Scattering_the_four_phases_writes_what_Backward_writes()
        => Prop.ForAll(Cases, c =>
        {
            var rng = new Rng((ulong)c.Seed);
            var g = ConvGeometry.Create(c.Height, c.Width, c.Channels, c.Kernel, 2, c.Same);
            var (height, width) = SpaceToDepth.Size(g);
            var phases = Support.Numerics.Uniform(ref rng, height * width * 4 * c.Channels);
            var expected = new float[c.Height * c.Width * c.Channels];
            SpaceToDepth.Backward(phases, g, expected);
            var actual = new float[expected.Length];
            Array.Fill(actual, float.NaN);
            for (int p = 0; p < 2; p++)
            {
                for (int q = 0; q < 2; q++)
                {
                    // The phase image's rows and columns of this phase that land in x, from the definition.
                    var rows = Enumerable.Range(0, height).Where(i => 2 * i + p - g.PadTop >= 0 && 2 * i + p - g.PadTop < c.Height).ToArray();
                    var columns = Enumerable.Range(0, width).Where(j => 2 * j + q - g.PadLeft >= 0 && 2 * j + q - g.PadLeft < c.Width).ToArray();
                    var phase = new float[rows.Length * columns.Length * c.Channels];
                    for (int i = 0; i < rows.Length; i++)
                    {
                        for (int j = 0; j < columns.Length; j++)
                        {
                            phases.AsSpan(((rows[i] * width + columns[j]) * 4 + 2 * p + q) * c.Channels, c.Channels)
                                .CopyTo(phase.AsSpan((i * columns.Length + j) * c.Channels));
                        }
                    }
                    SpaceToDepth.ScatterPhase(phase, g, p, q, rows.FirstOrDefault(), columns.FirstOrDefault(), rows.Length, columns.Length, actual);
                }
            }
            for (int i = 0; i < actual.Length; i++)
            {
                actual[i] = float.IsNaN(actual[i]) ? 0 : actual[i];
            }
            Support.Numerics.AssertBitEqual(expected, actual, $"phases scattered {c}");
        });

    [Fact]
    public void Phase_kernels_take_the_even_and_odd_taps_and_pad_with_zeros()
    {
        // One channel, one filter, w[ky, kx] = 10·ky + kx: phase (p, q) at (a, b) is tap (2a + p, 2b + q).
        var w = new float[25];
        for (int i = 0; i < 25; i++)
        {
            w[i] = 10 * (i / 5) + i % 5;
        }
        var phased = new float[36];
        SpaceToDepth.TransformWeights(w, 5, 1, 1, phased);
        // [a, b, phase]: (0, 0) takes taps 00, 01, 10, 11; (2, 2) takes 44 and three zeros; (1, 2) takes 24, 34 (q = 1 passes the kernel).
        Assert.Equal(new float[] { 0, 1, 10, 11 }, phased.AsSpan(0, 4).ToArray());
        Assert.Equal(new float[] { 44, 0, 0, 0 }, phased.AsSpan(32, 4).ToArray());
        Assert.Equal(new float[] { 24, 0, 34, 0 }, phased.AsSpan(20, 4).ToArray());
    }

    [Fact]
    public void Stride_1_is_refused()
    {
        var g = ConvGeometry.Create(8, 8, 2, 5, 1, same: true);
        Assert.Throws<ArgumentException>(() => SpaceToDepth.Forward(new float[128], g, 0, 1, new float[1000]));
    }

    // x: [H, W, C], w: [K, K, C, F] → [OH·OW, F] by im2col and the scalar GEMM.
    private static float[] Convolve(float[] x, ConvGeometry g, float[] w, int filters)
    {
        var col = new float[g.OutPixels * g.PatchSize];
        Convolution.Im2Col(x, g, col);
        var y = new float[g.OutPixels * filters];
        Gemm.MultiplyScalar(col, false, w, false, g.OutPixels, filters, g.PatchSize, y, accumulate: false);
        return y;
    }
}
