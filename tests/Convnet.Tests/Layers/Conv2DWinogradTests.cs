using Convnet.Kernels;
using Convnet.Layers;
using Convnet.Runtime;
using Convnet.Tensors;
using Convnet.Tests.Support;
using Xunit;

namespace Convnet.Tests.Layers;

/// <summary>
/// Conv2D's training runs 3×3 stride-1 convolutions by Winograd (the forward and the kernel gradient
/// when the input has ≥ 8 channels, the input gradient when there are ≥ 8 filters): outputs, input gradients and kernel
/// gradients must match the exact sums (in double) within float rounding of the transforms, relative
/// to Σ|terms| of each sum, for both paddings, odd and even sizes and channel counts off the vector width;
/// likewise 5×5 and 6×6 stride-2 convolutions, which run as a 3×3 one over their input's phases.
/// </summary>
public class Conv2DWinogradTests
{
    // The transforms of F(4×4, 3×3) lose about 1e-6 of Σ|terms|; a wrong tap or border is off by O(1).
    private const double Tolerance = 1e-4;

    [Theory]
    // simple's second convolution (4×4 tiles both ways), two chunks of images.
    [InlineData(13, 13, 32, 64, false, 18)]
    [InlineData(11, 11, 8, 8, false, 3)]
    [InlineData(12, 10, 8, 12, true, 5)]
    [InlineData(9, 9, 16, 8, true, 17)]
    // 6×6 outputs: 2×2 tiles (F(2×2, 3×3)), vector widths, several chunks.
    [InlineData(8, 8, 16, 24, false, 35)]
    [InlineData(6, 6, 16, 16, true, 17)]
    // Channel counts that are not multiples of 8: the transforms' scalar twins.
    [InlineData(8, 8, 9, 10, false, 2)]
    [InlineData(5, 7, 12, 16, false, 4)]
    [InlineData(4, 4, 8, 8, true, 2)]
    // Only one direction by Winograd: few filters (forward), few channels (input gradient).
    [InlineData(10, 10, 16, 4, true, 3)]
    [InlineData(10, 9, 3, 16, false, 3)]
    public void Forward_input_gradient_and_kernel_gradient_match_the_exact_sums(int height, int width, int channels, int filters, bool same, int batch)
        => MatchesTheExactSums(height, width, channels, filters, 3, 1, same, batch);

    /// <summary>5×5 and 6×6 stride-2 convolutions run by Winograd over their input's phases (space-to-depth), the input gradient one phase at a time: the same sums.</summary>
    [Theory]
    // strong's first, 24×24×32 → 12×12×32 'same'; its second (8×8×64 → 4×4×64) stays im2col (a map under 8×8).
    [InlineData(24, 24, 32, 32, 5, true, 18)]
    [InlineData(8, 8, 64, 64, 5, true, 17)]
    // 'valid', odd sizes, 6×6 kernels, few channels and filters (the input gradient by im2col).
    [InlineData(21, 19, 8, 16, 5, false, 3)]
    // A last row no output reads: its input gradient is 0, outside every phase.
    [InlineData(21, 20, 8, 16, 6, false, 3)]
    // 'same' with an odd side: the phases take 12 and 11 rows.
    [InlineData(23, 24, 16, 16, 5, true, 2)]
    [InlineData(16, 17, 3, 8, 6, true, 2)]
    [InlineData(17, 16, 2, 4, 5, true, 3)]
    [InlineData(22, 22, 9, 10, 6, false, 2)]
    public void Stride_2_convolutions_over_phases_match_the_exact_sums(int height, int width, int channels, int filters, int kernel, bool same, int batch)
        => MatchesTheExactSums(height, width, channels, filters, kernel, 2, same, batch);

    private static void MatchesTheExactSums(int height, int width, int channels, int filters, int kernel, int stride, bool same, int batch)
    {
        using var pool = new WorkerPool(2);
        var store = new ParameterStore();
        var layer = new Conv2D(filters, kernel, stride, same ? Padding.Same : Padding.Valid);
        var input = Shape.Image(height, width, channels);
        layer.Build(input, new LayerContext(pool, store, 3, 0));
        layer.EnsureCapacity(batch);
        var rng = new Rng(7);
        Numerics.Uniform(ref rng, layer.Bias.Value);
        var x = new Tensor(input, batch);
        var dy = new Tensor(layer.OutputShape, batch);
        Numerics.Uniform(ref rng, x.Span);
        Numerics.Uniform(ref rng, dy.Span);
        var g = ConvGeometry.Create(height, width, channels, kernel, stride, same);
        var w = layer.Kernel.Value.ToArray();
        var b = layer.Bias.Value.ToArray();

        var y = layer.Forward(x, training: true).Span.ToArray();
        store.ZeroGradients();
        var dx = layer.Backward(dy)!.Span.ToArray();
        var dw = layer.Kernel.Gradient.ToArray();

        var (yExact, yTerms) = (new double[y.Length], new double[y.Length]);
        var (dxExact, dxTerms) = (new double[dx.Length], new double[dx.Length]);
        var (dwExact, dwTerms) = (new double[dw.Length], new double[dw.Length]);
        int inSize = input.Size, outSize = layer.OutputShape.Size;
        for (int n = 0; n < batch; n++)
        {
            for (int oy = 0; oy < g.OutHeight; oy++)
            {
                for (int ox = 0; ox < g.OutWidth; ox++)
                {
                    for (int f = 0; f < filters; f++)
                    {
                        int yi = n * outSize + (oy * g.OutWidth + ox) * filters + f;
                        yExact[yi] += b[f];
                        yTerms[yi] += Math.Abs(b[f]);
                        for (int k = 0; k < kernel * kernel; k++)
                        {
                            int iy = oy * stride - g.PadTop + k / kernel, ix = ox * stride - g.PadLeft + k % kernel;
                            if (iy < 0 || iy >= height || ix < 0 || ix >= width)
                            {
                                continue;
                            }
                            for (int c = 0; c < channels; c++)
                            {
                                int xi = n * inSize + (iy * width + ix) * channels + c;
                                int wi = (k * channels + c) * filters + f;
                                double xv = x.Span[xi], wv = w[wi], dyv = dy.Span[yi];
                                yExact[yi] += xv * wv;
                                yTerms[yi] += Math.Abs(xv * wv);
                                dxExact[xi] += dyv * wv;
                                dxTerms[xi] += Math.Abs(dyv * wv);
                                dwExact[wi] += dyv * xv;
                                dwTerms[wi] += Math.Abs(dyv * xv);
                            }
                        }
                    }
                }
            }
        }
        AssertClose(yExact, yTerms, y, "forward");
        AssertClose(dxExact, dxTerms, dx, "input gradient");
        AssertClose(dwExact, dwTerms, dw, "kernel gradient");
    }

    private static void AssertClose(double[] exact, double[] terms, float[] actual, string what)
    {
        for (int i = 0; i < exact.Length; i++)
        {
            double error = Math.Abs(actual[i] - exact[i]);
            Assert.True(error <= Tolerance * terms[i] + 1e-7, $"{what}[{i}]: {actual[i]} against {exact[i]} (Σ|terms| {terms[i]})");
        }
    }
}
