using Convnet.Kernels;
using Convnet.Tests.Support;
using Xunit;

namespace Convnet.Tests.Kernels;

/// <summary>
/// The blocked product touches nothing past the end of its operands. Found on Fashion-MNIST:
/// `train --arch strong` died with an access violation in the first seconds, because the 512-bit
/// microkernel read 32 bias values for Dense(10), whose bias is the last thing in the model's
/// parameter buffer, and that buffer happened to end at the end of mapped memory.
/// </summary>
public sealed class GemmBoundsTests
{
    [Theory]
    [InlineData(64, 10, 128)]
    [InlineData(13, 1, 7)]
    [InlineData(7, 33, 20)]
    [InlineData(100, 47, 300)]
    public void Operands_that_end_at_an_inaccessible_page_give_the_scalar_result(int m, int n, int k)
    {
        var rng = new Convnet.Runtime.Rng(3);
        float[] Random(int count) => [.. Enumerable.Range(0, count).Select(_ => rng.NextFloat() - 0.5f)];
        float[] a = Random(m * k), b = Random(k * n), bias = Random(n);
        var expected = new float[m * n];
        Gemm.MultiplyScalar(a, k, false, b, n, false, m, n, k, expected, n, false, bias);

        using var ga = GuardedBuffer.Of(a);
        using var gb = GuardedBuffer.Of(b);
        using var gbias = GuardedBuffer.Of(bias);
        using var gc = new GuardedBuffer(m * n);
        Gemm.Multiply(ga.Span, k, false, gb.Span, n, false, m, n, k, gc.Span, n, false, gbias.Span);
        AssertClose(expected, gc.Span.ToArray());

        // The prepacked path a Dense layer takes (its kernel packed once per step).
        var packed = new float[Gemm.PackedSize(n, k)];
        Gemm.PackB(b, n, false, n, k, packed);
        using var gpacked = GuardedBuffer.Of(packed);
        gc.Span.Clear();
        Gemm.MultiplyPacked(ga.Span, k, false, gpacked.Span, m, n, k, gc.Span, n, false, gbias.Span);
        AssertClose(expected, gc.Span.ToArray());
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f * (1 + Math.Abs(expected[i])), $"element {i}: {actual[i]} vs {expected[i]}");
        }
    }
}
