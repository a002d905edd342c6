using System.Runtime.Intrinsics.X86;

namespace Convnet.Kernels;

/// <summary>Conversions between this library's weight layouts (Keras's) and PyTorch's, for the model file.</summary>
public static class Layouts
{
    /// <summary>Reorders square <paramref name="k"/>×<paramref name="k"/> convolution kernels from Keras's HWIO layout to PyTorch's OIHW; <paramref name="c"/> input channels, <paramref name="f"/> filters.</summary>
    // w: [KH, KW, C, F] (Keras's HWIO) → dst: [F, C, KH, KW] (PyTorch's OIHW)
    public static void HwioToOihw(ReadOnlySpan<float> w, int k, int c, int f, Span<float> dst)
    {
        for (int ky = 0; ky < k; ky++)
        {
            for (int kx = 0; kx < k; kx++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    for (int o = 0; o < f; o++)
                    {
                        dst[((o * c + ch) * k + ky) * k + kx] = w[((ky * k + kx) * c + ch) * f + o];
                    }
                }
            }
        }
    }

    /// <summary>The inverse of <see cref="HwioToOihw"/>: PyTorch's OIHW kernels back to Keras's HWIO.</summary>
    // w: [F, C, KH, KW] (PyTorch's OIHW) → dst: [KH, KW, C, F] (Keras's HWIO)
    public static void OihwToHwio(ReadOnlySpan<float> w, int k, int c, int f, Span<float> dst)
    {
        for (int ky = 0; ky < k; ky++)
        {
            for (int kx = 0; kx < k; kx++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    for (int o = 0; o < f; o++)
                    {
                        dst[((ky * k + kx) * c + ch) * f + o] = w[((o * c + ch) * k + ky) * k + kx];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Transposes a row-major matrix, e.g. a Dense kernel [in, out] (Keras) to a weight [out, in]
    /// (PyTorch) and back, or an image [H·W, C] to Flatten's (C, H, W) order: 8×8 blocks in
    /// registers where AVX runs, the edges value by value; the twin is <see cref="TransposeScalar"/>.
    /// </summary>
    // w: [rows, cols] → dst: [cols, rows]
    public static unsafe void Transpose(ReadOnlySpan<float> w, int rows, int cols, Span<float> dst)
    {
        if (w.Length < (long)rows * cols || dst.Length < (long)rows * cols)
        {
            throw new ArgumentException($"Transpose of {rows}×{cols} needs {(long)rows * cols} values, got {w.Length} and room for {dst.Length}.");
        }
        if (!Avx.IsSupported || rows < 8 || cols < 8)
        {
            TransposeScalar(w, rows, cols, dst);
            return;
        }
        int rows8 = rows & ~7, cols8 = cols & ~7;
        fixed (float* src = w, to = dst)
        {
            for (int r = 0; r < rows8; r += 8)
            {
                for (int c = 0; c < cols8; c += 8)
                {
                    Transpose8x8(src + (long)r * cols + c, cols, to + (long)c * rows + r, rows);
                }
            }
            // The last cols % 8 columns of every row, then the last rows % 8 rows' first columns.
            for (int r = 0; r < rows; r++)
            {
                for (int c = r < rows8 ? cols8 : 0; c < cols; c++)
                {
                    to[(long)c * rows + r] = src[(long)r * cols + c];
                }
            }
        }
    }

    // The 8×8 block at a (row stride aStride) transposed into b (row stride bStride): pairs of rows
    // interleaved, then pairs of pairs, then the 128-bit halves swapped across. Needs Avx.IsSupported.
    internal static unsafe void Transpose8x8(float* a, int aStride, float* b, int bStride)
    {
        var r0 = Avx.LoadVector256(a);
        var r1 = Avx.LoadVector256(a + aStride);
        var r2 = Avx.LoadVector256(a + 2L * aStride);
        var r3 = Avx.LoadVector256(a + 3L * aStride);
        var r4 = Avx.LoadVector256(a + 4L * aStride);
        var r5 = Avx.LoadVector256(a + 5L * aStride);
        var r6 = Avx.LoadVector256(a + 6L * aStride);
        var r7 = Avx.LoadVector256(a + 7L * aStride);
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        // Columns j and j + 4 of rows 0-3 (s0-s3) and 4-7 (s4-s7), j = 0..3.
        var s0 = Avx.Shuffle(t0, t2, 0x44);
        var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44);
        var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44);
        var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44);
        var s7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(b, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(b + bStride, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(b + 2L * bStride, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(b + 3L * bStride, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(b + 4L * bStride, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(b + 5L * bStride, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(b + 6L * bStride, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(b + 7L * bStride, Avx.Permute2x128(s3, s7, 0x31));
    }

    /// <summary>The scalar twin of <see cref="Transpose"/>: dst[c, r] = w[r, c].</summary>
    // w: [rows, cols] → dst: [cols, rows]
    public static void TransposeScalar(ReadOnlySpan<float> w, int rows, int cols, Span<float> dst)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                dst[c * rows + r] = w[r * cols + c];
            }
        }
    }
}
