using Convnet.Kernels;
using Convnet.Tests.Support;
using Convnet.Runtime;
using Xunit;

namespace Convnet.Tests.Kernels;

/// <summary>
/// The training side's Winograd helpers: F(4×4, 3×3)'s float weight transform against its scalar twin
/// (bits) and the double transform (rounding), the input gradient's rotated kernel, padding, the
/// weight gradient's transforms (dy by A, the sums back by G) against their scalar twins and the
/// matrices in double, and the input gradient in the transformed domain against its scalar twin and
/// as the adjoint of the input transform.
/// </summary>
public class WinogradTrainingTests
{
    [Theory]
    [InlineData(32, 64)]
    [InlineData(3, 5)]
    [InlineData(8, 9)]
    public void TransformWeights4_equals_its_scalar_twin_and_the_double_transform_within_rounding(int channels, int filters)
    {
        var rng = new Rng(3);
        var w = Numerics.Uniform(ref rng, 9 * channels * filters);
        int size = Winograd4.Points * channels * filters;
        var (fast, scalar, exact) = (new float[size], new float[size], new float[size]);
        WinogradTraining.TransformWeights4(w, channels, filters, fast);
        WinogradTraining.TransformWeights4Scalar(w, channels, filters, scalar);
        Winograd4.TransformWeights(w, channels, filters, exact);
        Numerics.AssertBitEqual(scalar, fast, "vector against scalar twin");
        for (int i = 0; i < size; i++)
        {
            Assert.True(Math.Abs(fast[i] - exact[i]) <= 1e-6 * (1 + Math.Abs(exact[i])), $"u[{i}]: {fast[i]} against {exact[i]}");
        }
    }

    [Theory]
    [InlineData(32, 64, 512)]
    [InlineData(8, 9, 16)]
    [InlineData(5, 7, 8)]
    public void TransformWeights4_by_blocks_of_pairs_writes_the_whole_transform(int channels, int filters, int block)
    {
        var rng = new Rng(5);
        var w = Numerics.Uniform(ref rng, 9 * channels * filters);
        int cf = channels * filters, size = Winograd4.Points * cf;
        var (whole, blocks) = (new float[size], new float[size]);
        WinogradTraining.TransformWeights4(w, channels, filters, whole);
        // The blocks out of order, as threads may run them; the last one ends with pairs outside a vector.
        for (int first = (cf - 1) / block * block; first >= 0; first -= block)
        {
            WinogradTraining.TransformWeights4(w, channels, filters, first, Math.Min(block, cf - first), blocks);
        }
        Numerics.AssertBitEqual(whole, blocks, $"{channels}×{filters} in blocks of {block}");
        Assert.Throws<ArgumentOutOfRangeException>(() => WinogradTraining.TransformWeights4(w, channels, filters, cf - 8, 9, blocks));
    }

    [Fact]
    public void RotateKernel_turns_the_kernel_180_degrees_and_swaps_its_channels()
    {
        const int channels = 3, filters = 5;
        var rng = new Rng(4);
        var w = Numerics.Uniform(ref rng, 9 * channels * filters);
        var rotated = new float[w.Length];
        WinogradTraining.RotateKernel(w, channels, filters, rotated);
        for (int ky = 0; ky < 3; ky++)
        {
            for (int kx = 0; kx < 3; kx++)
            {
                for (int c = 0; c < channels; c++)
                {
                    for (int f = 0; f < filters; f++)
                    {
                        Assert.Equal(w[((ky * 3 + kx) * channels + c) * filters + f], rotated[(((2 - ky) * 3 + 2 - kx) * filters + f) * channels + c]);
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(3, 4, 2, 1, 2, 6, 7)]
    [InlineData(5, 5, 1, 2, 2, 7, 7)]
    // A padded size smaller than the image: the bottom and right are dropped.
    [InlineData(6, 6, 3, 1, 1, 4, 5)]
    public void PadImage_puts_the_image_at_its_offset_with_zeros_around(int height, int width, int channels, int top, int left, int paddedHeight, int paddedWidth)
    {
        var rng = new Rng(5);
        var x = Numerics.Uniform(ref rng, height * width * channels);
        var padded = new float[paddedHeight * paddedWidth * channels];
        padded.AsSpan().Fill(float.NaN);
        WinogradTraining.PadImage(x, height, width, channels, top, left, paddedHeight, paddedWidth, padded);
        for (int py = 0; py < paddedHeight; py++)
        {
            for (int px = 0; px < paddedWidth; px++)
            {
                for (int c = 0; c < channels; c++)
                {
                    int y = py - top, xx = px - left;
                    float expected = y >= 0 && y < height && xx >= 0 && xx < width ? x[(y * width + xx) * channels + c] : 0;
                    Assert.Equal(expected, padded[(py * paddedWidth + px) * channels + c]);
                }
            }
        }
    }

    // F(4×4, 3×3)'s A [6, 4] and G [6, 3]; F(2×2, 3×3)'s A [4, 2] and G [4, 3] (Lavin and Gray).
    private static readonly double[,] A4 = { { 1, 0, 0, 0 }, { 1, 1, 1, 1 }, { 1, -1, 1, -1 }, { 1, 2, 4, 8 }, { 1, -2, 4, -8 }, { 0, 0, 0, 1 } };
    private static readonly double[,] G4 = { { 1 / 4.0, 0, 0 }, { -1 / 6.0, -1 / 6.0, -1 / 6.0 }, { -1 / 6.0, 1 / 6.0, -1 / 6.0 }, { 1 / 24.0, 1 / 12.0, 1 / 6.0 }, { 1 / 24.0, -1 / 12.0, 1 / 6.0 }, { 0, 0, 1 } };
    private static readonly double[,] A2 = { { 1, 0 }, { 1, 1 }, { 1, -1 }, { 0, -1 } };
    private static readonly double[,] G2 = { { 1, 0, 0 }, { 0.5, 0.5, 0.5 }, { 0.5, -0.5, 0.5 }, { 0, 0, 1 } };

    [Theory]
    // simple's 13×13×32 input in 3×3 tiles of 4 (the last row and column of tiles run past it).
    [InlineData(13, 13, 32, 0, 0, 0)]
    // 'same' padding shifts the windows up and left; 16-channel and 8-channel vectors.
    [InlineData(10, 9, 16, 1, 1, 2)]
    [InlineData(8, 8, 8, 1, 1, 0)]
    // Channels off the vector width: the scalar twin.
    [InlineData(7, 6, 5, 0, 0, 1)]
    public void AccumulateInputGradient4_equals_its_scalar_twin_and_is_the_adjoint_of_the_input_transform(int height, int width, int channels, int top, int left, int firstTile)
    {
        // The forward's tiles over the image with its zero border: outputs (H + 2·top − 2) × (W + 2·left − 2).
        var (tileRows, tileColumns) = Winograd4.Tiles(height + 2 * top - 2, width + 2 * left - 2);
        int tiles = firstTile + tileRows * tileColumns;
        int pointStride = Winograd.PointStride(tiles * channels);
        var rng = new Rng(8);
        var dv = Numerics.Uniform(ref rng, Winograd4.Points * pointStride);
        var dx = Numerics.Uniform(ref rng, height * width * channels);
        var (fast, scalar) = (dx.ToArray(), dx.ToArray());
        WinogradTraining.AccumulateInputGradient4(dv, firstTile, pointStride, tileRows, tileColumns, channels, top, left, fast, height, width);
        WinogradTraining.AccumulateInputGradient4Scalar(dv, firstTile, pointStride, tileRows, tileColumns, channels, top, left, scalar, height, width);
        Numerics.AssertBitEqual(scalar, fast, "vector against scalar twin");

        // ⟨V(x), dV⟩ = ⟨x, Vᵀ(dV)⟩ for the forward's V = Bᵀ·d·B of the zero-bordered image (its
        // transform as Winograd4 runs it), in double; the added part is fast − dx.
        int paddedHeight = 4 * tileRows + 2, paddedWidth = 4 * tileColumns + 2;
        var x = Numerics.Uniform(ref rng, height * width * channels);
        var padded = new float[paddedHeight * paddedWidth * channels];
        WinogradTraining.PadImage(x, height, width, channels, top, left, paddedHeight, paddedWidth, padded);
        var v = new float[Winograd4.Points * pointStride];
        Winograd4.TransformInputScalar(padded, paddedHeight, paddedWidth, channels, tileRows, tileColumns, v, firstTile, pointStride);
        double forward = 0, adjoint = 0, scale = 0;
        for (int p = 0; p < Winograd4.Points; p++)
        {
            for (int i = firstTile * channels; i < tiles * channels; i++)
            {
                forward += (double)v[p * pointStride + i] * dv[p * pointStride + i];
                scale += Math.Abs((double)v[p * pointStride + i] * dv[p * pointStride + i]);
            }
        }
        for (int i = 0; i < x.Length; i++)
        {
            adjoint += (double)x[i] * ((double)fast[i] - dx[i]);
        }
        Assert.True(Math.Abs(forward - adjoint) <= 1e-5 * scale, $"⟨V(x), dV⟩ = {forward}, ⟨x, Vᵀ(dV)⟩ = {adjoint} (Σ|terms| {scale})");
    }

    [Theory]
    // 11×11 in 3×3 tiles of 4 (the last row and column of tiles run past the map), vector filters:
    // multiples of 16 take the 16-float vector on AVX-512, the others the 8-float one.
    [InlineData(11, 11, 16, true, 2, 16)]
    [InlineData(8, 8, 8, true, 0, 8)]
    [InlineData(9, 7, 32, false, 1, 32)]
    // Rows longer than F (the GEMM reads them in place).
    [InlineData(6, 5, 24, false, 3, 40)]
    [InlineData(11, 11, 64, true, 1, 72)]
    // Filters off the vector width: the scalar twin.
    [InlineData(7, 9, 10, true, 1, 10)]
    [InlineData(5, 5, 3, false, 0, 5)]
    public void TransformOutputGradient_equals_its_scalar_twin_and_A_dy_At_with_zeros_past_the_map(int outHeight, int outWidth, int filters, bool four, int firstTile, int rowStride)
    {
        int n = four ? 4 : 2, side = n + 2, points = side * side;
        var a = four ? A4 : A2;
        var (tileRows, tileColumns) = four ? Winograd4.Tiles(outHeight, outWidth) : Winograd.Tiles(outHeight, outWidth);
        int pointStride = Winograd.PointStride((firstTile + tileRows * tileColumns) * rowStride);
        var rng = new Rng(6);
        var dy = Numerics.Uniform(ref rng, outHeight * outWidth * filters);
        var (fast, scalar) = (new float[points * pointStride], new float[points * pointStride]);
        WinogradTraining.TransformOutputGradient(dy, outHeight, outWidth, filters, four, tileRows, tileColumns, fast, firstTile, rowStride, pointStride);
        WinogradTraining.TransformOutputGradientScalar(dy, outHeight, outWidth, filters, four, tileRows, tileColumns, scalar, firstTile, rowStride, pointStride);
        Numerics.AssertBitEqual(scalar, fast, "vector against scalar twin");
        for (int ty = 0; ty < tileRows; ty++)
        {
            for (int tx = 0; tx < tileColumns; tx++)
            {
                for (int f = 0; f < filters; f++)
                {
                    for (int i = 0; i < side; i++)
                    {
                        for (int j = 0; j < side; j++)
                        {
                            double exact = 0;
                            for (int r = 0; r < n; r++)
                            {
                                for (int c = 0; c < n; c++)
                                {
                                    int oy = n * ty + r, ox = n * tx + c;
                                    double value = oy < outHeight && ox < outWidth ? dy[(oy * outWidth + ox) * filters + f] : 0;
                                    exact += a[i, r] * value * a[j, c];
                                }
                            }
                            float actual = fast[(i * side + j) * pointStride + (firstTile + ty * tileColumns + tx) * rowStride + f];
                            Assert.True(Math.Abs(actual - exact) <= 1e-5 * (1 + Math.Abs(exact)), $"tile ({ty}, {tx}), filter {f}, point ({i}, {j}): {actual} against {exact}");
                        }
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(32, 64, true, 0, 2048)]
    // A block of pairs that starts and ends off the vector width: the vector loop, then the scalar twin.
    [InlineData(9, 10, true, 3, 70)]
    [InlineData(16, 8, false, 0, 128)]
    [InlineData(5, 3, false, 2, 11)]
    public void AccumulateKernelGradient_equals_its_scalar_twin_and_Gt_M_G_added_to_the_gradient(int channels, int filters, bool four, int first, int count)
    {
        int side = four ? 6 : 4, pairs = channels * filters;
        var g = four ? G4 : G2;
        var rng = new Rng(8);
        var m = Numerics.Uniform(ref rng, side * side * pairs);
        var before = Numerics.Uniform(ref rng, 9 * pairs);
        var (fast, scalar) = (before.ToArray(), before.ToArray());
        WinogradTraining.AccumulateKernelGradient(m, pairs, four, first, count, fast);
        WinogradTraining.AccumulateKernelGradientScalar(m, pairs, four, first, count, scalar);
        Numerics.AssertBitEqual(scalar, fast, "vector against scalar twin");
        for (int q = 0; q < pairs; q++)
        {
            for (int k = 0; k < 9; k++)
            {
                int at = k * pairs + q;
                if (q < first || q >= first + count)
                {
                    Assert.Equal(before[at], fast[at]);
                    continue;
                }
                double exact = before[at];
                for (int i = 0; i < side; i++)
                {
                    for (int j = 0; j < side; j++)
                    {
                        exact += g[i, k / 3] * m[(i * side + j) * pairs + q] * g[j, k % 3];
                    }
                }
                Assert.True(Math.Abs(fast[at] - exact) <= 1e-5 * (1 + Math.Abs(exact)), $"pair {q}, tap {k}: {fast[at]} against {exact}");
            }
        }
    }
}
