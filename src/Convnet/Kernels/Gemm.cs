using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Convnet.Kernels;

/// <summary>
/// Single-precision matrix products, row-major, in the BLIS style: panels of op(A) and op(B) are
/// packed into contiguous buffers (the transposes are handled by the packing, so one microkernel
/// serves A·B, Aᵀ·B and A·Bᵀ), and a register-blocked microkernel keeps an MR×NR block of C in
/// vector registers while it streams the packed panels with FMA.
/// Reference: Van Zee and van de Geijn, "BLIS: A Framework for Rapidly Instantiating BLAS
/// Functionality", ACM TOMS 2015.
/// </summary>
public static unsafe class Gemm
{
    internal const int MR = 6;
    internal const int KC = 256;
    internal const int MC = 96;
    internal const int NC = 1024;

    /// <summary>Width of the microkernel's C block: two vectors of the widest accelerated size.</summary>
    internal static readonly int NR = Vector512.IsHardwareAccelerated ? 32 : Vector256.IsHardwareAccelerated ? 16 : 8;

    [ThreadStatic] private static float[]? t_packA;
    [ThreadStatic] private static float[]? t_packB;

    // a: [m, k], b: [k, n] → c: [m, n]
    public static void MatMul(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate = false)
        => Multiply(a, false, b, false, m, n, k, c, accumulate);

    // a: [k, m] (used as aᵀ), b: [k, n] → c: [m, n]
    public static void MatMulTransA(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate = false)
        => Multiply(a, true, b, false, m, n, k, c, accumulate);

    // a: [m, k], b: [n, k] (used as bᵀ) → c: [m, n]
    public static void MatMulTransB(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate = false)
        => Multiply(a, false, b, true, m, n, k, c, accumulate);

    /// <summary>c = (accumulate ? c : 0) + op(a)·op(b), with op(a): [m, k] and op(b): [k, n], all dense.</summary>
    public static void Multiply(ReadOnlySpan<float> a, bool transA, ReadOnlySpan<float> b, bool transB, int m, int n, int k, Span<float> c, bool accumulate)
        => Multiply(a, transA ? m : k, transA, b, transB ? k : n, transB, m, n, k, c, n, accumulate);

    /// <summary>
    /// c = (accumulate ? c : 0) + op(a)·op(b) with leading dimensions: element (i, p) of op(a) is
    /// a[i * lda + p], or a[p * lda + i] when transposed; likewise b with ldb; c[i, j] is c[i * ldc + j].
    /// </summary>
    public static void Multiply(ReadOnlySpan<float> a, int lda, bool transA, ReadOnlySpan<float> b, int ldb, bool transB, int m, int n, int k, Span<float> c, int ldc, bool accumulate)
    {
        CheckSizes(a.Length, lda, transA ? k : m, transA ? m : k, "a");
        CheckSizes(b.Length, ldb, transB ? n : k, transB ? k : n, "b");
        CheckSizes(c.Length, ldc, m, n, "c");
        if (m == 0 || n == 0)
        {
            return;
        }
        if (k == 0)
        {
            if (!accumulate)
            {
                for (int i = 0; i < m; i++)
                {
                    c.Slice(i * ldc, n).Clear();
                }
            }
            return;
        }
        if (!Vector256.IsHardwareAccelerated)
        {
            MultiplyScalar(a, lda, transA, b, ldb, transB, m, n, k, c, ldc, accumulate);
            return;
        }

        int nr = NR;
        int packASize = MC * KC;
        int packBSize = KC * ((Math.Min(n, NC) + nr - 1) / nr * nr);
        var packA = t_packA is { } pa && pa.Length >= packASize ? pa : (t_packA = GC.AllocateArray<float>(packASize, pinned: true));
        var packB = t_packB is { } pb && pb.Length >= packBSize ? pb : (t_packB = GC.AllocateArray<float>(Math.Max(packBSize, KC * NC / 4), pinned: true));
        float* edge = stackalloc float[MR * 32];

        fixed (float* pA = a, pB = b, pC = c, bufA = packA, bufB = packB)
        {
            for (int jc = 0; jc < n; jc += NC)
            {
                int nc = Math.Min(NC, n - jc);
                for (int pc = 0; pc < k; pc += KC)
                {
                    int kc = Math.Min(KC, k - pc);
                    bool add = accumulate || pc > 0;
                    PackB(pB, ldb, transB, pc, kc, jc, nc, nr, bufB);
                    for (int ic = 0; ic < m; ic += MC)
                    {
                        int mc = Math.Min(MC, m - ic);
                        PackA(pA, lda, transA, ic, mc, pc, kc, bufA);
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            int cols = Math.Min(nr, nc - jr);
                            float* bPanel = bufB + jr * kc;
                            for (int ir = 0; ir < mc; ir += MR)
                            {
                                int rows = Math.Min(MR, mc - ir);
                                float* aPanel = bufA + ir * kc;
                                float* cTile = pC + (long)(ic + ir) * ldc + jc + jr;
                                if (rows == MR && cols == nr)
                                {
                                    Microkernel(kc, aPanel, bPanel, cTile, ldc, add);
                                }
                                else
                                {
                                    // Edge tile: compute a full tile into a scratch block, then add the valid part.
                                    Microkernel(kc, aPanel, bPanel, edge, nr, false);
                                    for (int i = 0; i < rows; i++)
                                    {
                                        for (int j = 0; j < cols; j++)
                                        {
                                            cTile[i * ldc + j] = add ? cTile[i * ldc + j] + edge[i * nr + j] : edge[i * nr + j];
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    // A stored matrix of rows × cols with row stride ld must fit in length.
    private static void CheckSizes(int length, int ld, int rows, int cols, string name)
    {
        if (rows < 0 || cols < 0 || ld < cols)
        {
            throw new ArgumentException($"Matrix {name}: invalid sizes rows={rows}, cols={cols}, leading dimension={ld}.");
        }
        if (rows > 0 && cols > 0 && length < (long)(rows - 1) * ld + cols)
        {
            throw new ArgumentException($"Matrix {name}: buffer of {length} too small for {rows}×{cols} with leading dimension {ld}.");
        }
    }

    // Packs op(A)[ic..ic+mc, pc..pc+kc] as panels of MR rows: panel p holds [kk * MR + ii], zero-padded.
    private static void PackA(float* a, int lda, bool transA, int ic, int mc, int pc, int kc, float* dst)
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            int rows = Math.Min(MR, mc - ir);
            float* panel = dst + ir * kc;
            if (transA)
            {
                // a: [k, lda]; rows of the panel are contiguous runs of a.
                for (int kk = 0; kk < kc; kk++)
                {
                    float* src = a + (long)(pc + kk) * lda + ic + ir;
                    float* d = panel + kk * MR;
                    int ii = 0;
                    for (; ii < rows; ii++)
                    {
                        d[ii] = src[ii];
                    }
                    for (; ii < MR; ii++)
                    {
                        d[ii] = 0;
                    }
                }
            }
            else
            {
                // a: [m, lda]
                for (int ii = 0; ii < MR; ii++)
                {
                    if (ii < rows)
                    {
                        float* src = a + (long)(ic + ir + ii) * lda + pc;
                        for (int kk = 0; kk < kc; kk++)
                        {
                            panel[kk * MR + ii] = src[kk];
                        }
                    }
                    else
                    {
                        for (int kk = 0; kk < kc; kk++)
                        {
                            panel[kk * MR + ii] = 0;
                        }
                    }
                }
            }
        }
    }

    // Packs op(B)[pc..pc+kc, jc..jc+nc] as panels of nr columns: panel p holds [kk * nr + jj], zero-padded.
    private static void PackB(float* b, int ldb, bool transB, int pc, int kc, int jc, int nc, int nr, float* dst)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* panel = dst + jr * kc;
            if (transB)
            {
                // b: [n, ldb]
                for (int jj = 0; jj < nr; jj++)
                {
                    if (jj < cols)
                    {
                        float* src = b + (long)(jc + jr + jj) * ldb + pc;
                        for (int kk = 0; kk < kc; kk++)
                        {
                            panel[kk * nr + jj] = src[kk];
                        }
                    }
                    else
                    {
                        for (int kk = 0; kk < kc; kk++)
                        {
                            panel[kk * nr + jj] = 0;
                        }
                    }
                }
            }
            else
            {
                // b: [k, ldb]; each panel row is a contiguous run of b.
                for (int kk = 0; kk < kc; kk++)
                {
                    float* src = b + (long)(pc + kk) * ldb + jc + jr;
                    float* d = panel + kk * nr;
                    if (cols == nr)
                    {
                        Buffer.MemoryCopy(src, d, nr * sizeof(float), nr * sizeof(float));
                    }
                    else
                    {
                        int jj = 0;
                        for (; jj < cols; jj++)
                        {
                            d[jj] = src[jj];
                        }
                        for (; jj < nr; jj++)
                        {
                            d[jj] = 0;
                        }
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Microkernel(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Microkernel512(kc, a, b, c, ldc, accumulate);
        }
        else
        {
            Microkernel256(kc, a, b, c, ldc, accumulate);
        }
    }

    // c: [6, 32] block with row stride ldc; a: packed [kc, 6]; b: packed [kc, 32]
    private static void Microkernel512(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40);
            c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50);
            c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            a += MR;
            b += 32;
        }
        Store512(c, accumulate, c00, c01);
        Store512(c + ldc, accumulate, c10, c11);
        Store512(c + 2 * ldc, accumulate, c20, c21);
        Store512(c + 3 * ldc, accumulate, c30, c31);
        Store512(c + 4 * ldc, accumulate, c40, c41);
        Store512(c + 5 * ldc, accumulate, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, bool accumulate, Vector512<float> v0, Vector512<float> v1)
    {
        if (accumulate)
        {
            v0 += Vector512.Load(c);
            v1 += Vector512.Load(c + 16);
        }
        v0.Store(c);
        v1.Store(c + 16);
    }

    // c: [6, 16] block with row stride ldc; a: packed [kc, 6]; b: packed [kc, 16]
    private static void Microkernel256(int kc, float* a, float* b, float* c, int ldc, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00);
            c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10);
            c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20);
            c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30);
            c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[4]);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40);
            c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[5]);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50);
            c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            a += MR;
            b += 16;
        }
        Store256(c, accumulate, c00, c01);
        Store256(c + ldc, accumulate, c10, c11);
        Store256(c + 2 * ldc, accumulate, c20, c21);
        Store256(c + 3 * ldc, accumulate, c30, c31);
        Store256(c + 4 * ldc, accumulate, c40, c41);
        Store256(c + 5 * ldc, accumulate, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* c, bool accumulate, Vector256<float> v0, Vector256<float> v1)
    {
        if (accumulate)
        {
            v0 += Vector256.Load(c);
            v1 += Vector256.Load(c + 8);
        }
        v0.Store(c);
        v1.Store(c + 8);
    }

    /// <summary>The scalar twin: the textbook triple loop, accumulating in float in k order.</summary>
    public static void MultiplyScalar(ReadOnlySpan<float> a, bool transA, ReadOnlySpan<float> b, bool transB, int m, int n, int k, Span<float> c, bool accumulate)
        => MultiplyScalar(a, transA ? m : k, transA, b, transB ? k : n, transB, m, n, k, c, n, accumulate);

    /// <summary>The scalar twin with leading dimensions.</summary>
    public static void MultiplyScalar(ReadOnlySpan<float> a, int lda, bool transA, ReadOnlySpan<float> b, int ldb, bool transB, int m, int n, int k, Span<float> c, int ldc, bool accumulate)
    {
        CheckSizes(a.Length, lda, transA ? k : m, transA ? m : k, "a");
        CheckSizes(b.Length, ldb, transB ? n : k, transB ? k : n, "b");
        CheckSizes(c.Length, ldc, m, n, "c");
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++)
                {
                    float x = transA ? a[p * lda + i] : a[i * lda + p];
                    float y = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += x * y;
                }
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
            }
        }
    }
}
