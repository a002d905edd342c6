using Convnet.Kernels;
using Convnet.Runtime;
using Convnet.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Convnet.Tests.Kernels;

/// <summary>im2col + GEMM against the direct convolution, and Col2Im as the adjoint of Im2Col.</summary>
public class ConvolutionTests
{
    public sealed record GeometryCase(int Kernel, int Stride, bool Same, int Height, int Width, int Channels, int Filters, int Seed)
    {
        public ConvGeometry Geometry => ConvGeometry.Create(Height, Width, Channels, Kernel, Stride, Same);
    }

    private static Arbitrary<GeometryCase> Cases =>
        (from kernel in Gen.Choose(1, 5)
         from stride in Gen.Choose(1, 3)
         from same in Gen.Elements(false, true)
         from height in Gen.Choose(same ? 1 : kernel, 12)
         from width in Gen.Choose(same ? 1 : kernel, 12)
         from channels in Gen.Choose(1, 8)
         from filters in Gen.Choose(1, 8)
         from seed in Gen.Choose(0, int.MaxValue)
         select new GeometryCase(kernel, stride, same, height, width, channels, filters, seed)).ToArbitrary();

    [Fact]
    public void Geometry_follows_keras_output_sizes_and_padding()
    {
        // "same": ceil(size / stride) outputs, the odd padding pixel at the bottom/right.
        var g = ConvGeometry.Create(7, 8, 3, 4, 2, same: true);
        Assert.Equal((4, 4, 1, 1), (g.OutHeight, g.OutWidth, g.PadTop, g.PadLeft));
        // "valid": floor((size − kernel) / stride) + 1.
        g = ConvGeometry.Create(7, 8, 3, 3, 2, same: false);
        Assert.Equal((3, 3, 0, 0), (g.OutHeight, g.OutWidth, g.PadTop, g.PadLeft));
        Assert.Equal(27, g.PatchSize);
    }

    /// <summary>
    /// y = Im2Col(x)·W + b versus the direct loop. Both sum K = KH·KW·C products and a bias in
    /// float32 in different orders, so each is within (K + 2)·u·T of the exact value, with T the same
    /// sum over absolute values; they differ by at most 2(K + 2)·u·T. T is the direct convolution of
    /// |x|, |W|, |b| (itself a float sum of positive terms, within a relative (K + 1)·u of exact, hence
    /// the 1.01).
    /// </summary>
    [Property(MaxTest = 100)]
    public Property Im2Col_then_Gemm_equals_the_direct_convolution()
        => Prop.ForAll(Cases, c =>
        {
            var g = c.Geometry;
            var rng = new Rng((ulong)c.Seed);
            var x = Numerics.Uniform(ref rng, c.Height * c.Width * c.Channels);
            var w = Numerics.Uniform(ref rng, g.PatchSize * c.Filters);
            var b = Numerics.Uniform(ref rng, c.Filters);
            var col = new float[g.OutPixels * g.PatchSize];
            col.AsSpan().Fill(float.NaN);
            Convolution.Im2Col(x, g, col);
            var viaGemm = new float[g.OutPixels * c.Filters];
            Gemm.MatMul(col, w, g.OutPixels, c.Filters, g.PatchSize, viaGemm);
            Elementwise.AddBias(viaGemm, b, g.OutPixels);

            var direct = new float[viaGemm.Length];
            Convolution.ForwardScalar(x, w, b, g, c.Filters, direct);
            var bound = new float[viaGemm.Length];
            Convolution.ForwardScalar(Numerics.Abs(x), Numerics.Abs(w), Numerics.Abs(b), g, c.Filters, bound);
            double gamma = (g.PatchSize + 2) * Numerics.U32;
            for (int i = 0; i < direct.Length; i++)
            {
                double tolerance = 2 * gamma * 1.01 * bound[i];
                if (!(Math.Abs(viaGemm[i] - direct[i]) <= tolerance))
                {
                    Assert.Fail($"{c}: output {i}: im2col+GEMM {viaGemm[i]:R}, direct {direct[i]:R}, tolerance {tolerance:E3}.");
                }
            }
        });

    [Theory]
    [InlineData(9, 7, 3, 3, 1, false)]
    [InlineData(12, 12, 2, 5, 2, true)]
    [InlineData(8, 8, 4, 5, 2, true)]
    public void Im2Col_of_a_band_of_output_rows_is_that_band_of_the_whole(int height, int width, int channels, int kernel, int stride, bool same)
    {
        var g = ConvGeometry.Create(height, width, channels, kernel, stride, same);
        var rng = new Rng(5);
        var x = Support.Numerics.Uniform(ref rng, height * width * channels);
        var whole = new float[g.OutPixels * g.PatchSize];
        Convolution.Im2Col(x, g, whole);
        int row = g.OutWidth * g.PatchSize;
        for (int first = 0; first < g.OutHeight; first++)
        {
            for (int rows = 1; first + rows <= g.OutHeight; rows++)
            {
                var band = new float[rows * row];
                Convolution.Im2Col(x, g, band, first, rows);
                Support.Numerics.AssertBitEqual(whole.AsSpan(first * row, rows * row).ToArray(), band, $"rows {first}..{first + rows}");
            }
        }
    }

    [Fact]
    public void Im2Col_reads_zero_padding_around_the_image()
    {
        // 2×2 image with one channel, 3×3 kernel, "same": the one output row per pixel is its
        // 3×3 neighbourhood, zero outside.
        var g = ConvGeometry.Create(2, 2, 1, 3, 1, same: true);
        var col = new float[4 * 9];
        Convolution.Im2Col([1, 2, 3, 4], g, col);
        Assert.Equal([0f, 0, 0, 0, 1, 2, 0, 3, 4], col[..9]);
        Assert.Equal([1f, 2, 0, 3, 4, 0, 0, 0, 0], col[27..]);
    }

    /// <summary>
    /// ⟨Im2Col(x), c⟩ = ⟨x, Col2Im(c)⟩. Im2Col only copies, and both inner products are summed in
    /// double, so the only float32 rounding is Col2Im's accumulation of at most KH·KW contributions
    /// per pixel: |difference| ≤ KH·KW·u·⟨|x|, Col2Im(|c|)⟩ (+ double rounding, far smaller).
    /// </summary>
    [Property(MaxTest = 100)]
    public Property Col2Im_is_the_adjoint_of_Im2Col()
        => Prop.ForAll(Cases, c =>
        {
            var g = c.Geometry;
            var rng = new Rng((ulong)c.Seed);
            var x = Numerics.Uniform(ref rng, c.Height * c.Width * c.Channels);
            var cols = Numerics.Uniform(ref rng, g.OutPixels * g.PatchSize);
            var im2col = new float[cols.Length];
            Convolution.Im2Col(x, g, im2col);
            var col2im = new float[x.Length];
            Convolution.Col2Im(cols, g, col2im);
            double left = Numerics.Dot(im2col, cols);
            double right = Numerics.Dot(x, col2im);

            var absCol2Im = new float[x.Length];
            Convolution.Col2Im(Numerics.Abs(cols), g, absCol2Im);
            double tolerance = c.Kernel * c.Kernel * Numerics.U32 * 1.01 * Numerics.Dot(Numerics.Abs(x), absCol2Im) + 1e-12;
            Assert.True(Math.Abs(left - right) <= tolerance, $"{c}: ⟨Im2Col x, c⟩ = {left:R}, ⟨x, Col2Im c⟩ = {right:R}, tolerance {tolerance:E3}.");
        });

    [Fact]
    public void Col2Im_accumulates_into_dx()
    {
        var g = ConvGeometry.Create(2, 2, 1, 1, 1, same: false);
        float[] dx = [1, 1, 1, 1];
        Convolution.Col2Im([1, 2, 3, 4], g, dx);
        Assert.Equal([2f, 3f, 4f, 5f], dx);
    }
}
