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

    // A work item near where two threads meet runs in parts of RunImages images: each image must get
    // the bits its whole group gives it (a tile's products do not depend on the GEMM's other rows).
    [Theory]
    // strong's 12×12 → 10×10 (9 tiles an image, groups of 4): runs of 2 (18 rows, full GEMM tiles).
    [InlineData(12, 12, 16, 24, 4, 2)]
    // 10×10 → 8×8 (4 tiles an image, groups of 8): runs of 4 (16 rows fill as many as 32 do).
    [InlineData(10, 10, 64, 64, 8, 4)]
    // 26×26 → 24×24 (36 tiles, a group is an image).
    [InlineData(26, 26, 8, 16, 1, 1)]
    public void A_run_of_part_of_a_group_gives_its_images_the_groups_bits(int height, int width, int channels, int filters, int group, int run)
    {
        var conv = new WinogradConvolution(height, width, channels, 0, height - 2, width - 2, filters);
        Assert.Equal(run, conv.RunImages);
        Assert.Equal(0, conv.ItemImages % group);
        var rng = new Rng(9);
        var kernel = Numerics.Uniform(ref rng, 9 * channels * filters);
        var bias = Numerics.Uniform(ref rng, filters);
        int inSize = height * width * channels, outSize = (height - 2) * (width - 2) * filters;
        var x = Numerics.Uniform(ref rng, group * inSize);
        conv.EnsureCapacity(1);
        conv.SetKernel(kernel, rotated: false);
        var whole = new float[group * outSize];
        conv.Run(x, group, bias, relu: true, whole);
        var runs = new float[group * outSize];
        for (int i = 0; i < group; i += run)
        {
            int images = Math.Min(run, group - i);
            conv.Run(x.AsSpan(i * inSize, images * inSize), images, bias, relu: true, runs.AsSpan(i * outSize, images * outSize));
        }
        Assert.Equal(whole, runs);
        // And image by image, as a batch's last part may leave a shorter run.
        for (int i = 0; i < group; i++)
        {
            var alone = new float[outSize];
            conv.Run(x.AsSpan(i * inSize, inSize), 1, bias, relu: true, alone);
            Assert.Equal(whole.AsSpan(i * outSize, outSize).ToArray(), alone);
        }
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
