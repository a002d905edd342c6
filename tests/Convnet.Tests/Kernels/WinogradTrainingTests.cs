using Convnet.Kernels;
using Convnet.Tests.Support;
using Convnet.Runtime;
using Xunit;

namespace Convnet.Tests.Kernels;

/// <summary>
/// The training side's Winograd helpers: F(4×4, 3×3)'s float weight transform against its scalar twin
/// (bits) and the double transform (rounding), the input gradient's rotated kernel, and padding.
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
}
