using Convnet.Layers;
using Convnet.Runtime;
using Convnet.Tensors;
using Convnet.Tests.Support;
using Xunit;

namespace Convnet.Tests.Layers;

/// <summary>
/// The kernel gradient by Winograd sums each chunk's groups in group order; a thread left without a
/// chunk takes the last groups of a chunk still running, and that chunk adds their products in
/// order when it reaches them. The kernel gradient and the input gradient must be the same bits as
/// one thread's, which runs every group in its chunk.
/// </summary>
public class WinogradConvolutionTests
{
    [Theory]
    // strong's second convolution (26×26×32 → 24×24×32, F(4×4) with the input gradient): a group is
    // one image, so a chunk of 16 has 16 groups; a second chunk of one image leaves a thread free.
    [InlineData(26, 26, 32, 32, 17, true)]
    // 12×12 → 10×10 (9 tiles an image, groups of 4 images), three chunks, the kernel gradient only.
    [InlineData(12, 12, 16, 24, 37, false)]
    public void Groups_taken_by_another_thread_give_the_same_bits_as_one_thread(int height, int width, int channels, int filters, int batch, bool inputGradient)
    {
        var rng = new Rng(5);
        var kernel = Numerics.Uniform(ref rng, 9 * channels * filters);
        var x = new Tensor(Shape.Image(height, width, channels), batch);
        var dy = new Tensor(Shape.Image(height - 2, width - 2, filters), batch);
        Numerics.Uniform(ref rng, x.Span);
        Numerics.Uniform(ref rng, dy.Span);
        var before = Numerics.Uniform(ref rng, 9 * channels * filters);

        var (expectedDw, expectedDx, _) = Run(1, height, width, channels, filters, kernel, x, dy, before, inputGradient);
        // Whether a thread is free while another runs a chunk depends on the machine: try until one is.
        int moved = 0;
        for (int attempt = 0; attempt < 200 && moved == 0; attempt++)
        {
            var (dw, dx, groups) = Run(2, height, width, channels, filters, kernel, x, dy, before, inputGradient);
            Assert.Equal(expectedDw, dw);
            Assert.Equal(expectedDx, dx);
            moved = groups;
        }
        Assert.True(moved > 0, "no group ran away from its chunk in 200 calls");
    }

    private static (float[] Dw, float[] Dx, int Moved) Run(int threads, int height, int width, int channels, int filters, float[] kernel, Tensor x, Tensor dy, float[] before, bool inputGradient)
    {
        using var pool = new WorkerPool(threads);
        var conv = new WinogradConvolution(height, width, channels, 0, height - 2, width - 2, filters);
        int chunks = Chunks.Count(x.Batch);
        conv.EnsureCapacity(Math.Min(threads, chunks), chunks);
        conv.SetKernel(kernel, rotated: false, pool);
        Tensor? dx = null;
        if (inputGradient)
        {
            conv.SetKernelTransposed(pool);
            dx = new Tensor(x.Shape, x.Batch);
        }
        var dw = before.ToArray();
        conv.AccumulateKernelGradient(pool, x, dy, dw, 0, dx);
        return (dw, dx?.Span.ToArray() ?? [], conv.MovedGroups);
    }
}
