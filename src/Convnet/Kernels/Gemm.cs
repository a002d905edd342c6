using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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

    /// <summary>c = (accumulate ? c : 0) + a·b.</summary>
    // a: [m, k], b: [k, n] → c: [m, n]
    public static void MatMul(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate = false)
        => Multiply(a, false, b, false, m, n, k, c, accumulate);

    /// <summary>c = (accumulate ? c : 0) + aᵀ·b.</summary>
    // a: [k, m] (used as aᵀ), b: [k, n] → c: [m, n]
    public static void MatMulTransA(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int m, int n, int k, Span<float> c, bool accumulate = false)
        => Multiply(a, true, b, false, m, n, k, c, accumulate);

    /// <summary>c = (accumulate ? c : 0) + a·bᵀ.</summary>
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
        => Multiply(a, lda, transA, b, ldb, transB, m, n, k, c, ldc, accumulate, default);

    /// <summary>As the overload above, and when <paramref name="bias"/> is given (length n) it is added to every row of c, in the microkernel's epilogue.</summary>
    public static void Multiply(ReadOnlySpan<float> a, int lda, bool transA, ReadOnlySpan<float> b, int ldb, bool transB, int m, int n, int k, Span<float> c, int ldc, bool accumulate, ReadOnlySpan<float> bias)
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
            for (int i = 0; i < m; i++)
            {
                var row = c.Slice(i * ldc, n);
                if (!accumulate)
                {
                    row.Clear();
                }
                if (!bias.IsEmpty)
                {
                    Elementwise.Map<AddOperator>(row, bias, row);
                }
            }
            return;
        }
        if (!Vector256.IsHardwareAccelerated)
        {
            MultiplyScalar(a, lda, transA, b, ldb, transB, m, n, k, c, ldc, accumulate, bias);
            return;
        }

        if (bias.Length != 0 && bias.Length != n)
        {
            throw new ArgumentException($"Bias length {bias.Length} differs from n={n}.", nameof(bias));
        }
        if (m <= SmallRows && !transB)
        {
            MultiplyFewRows(a, lda, transA, b, ldb, m, n, k, c, ldc, accumulate, bias);
            return;
        }
        fixed (float* pA = a, pB = b, pC = c, pBias = bias)
        {
            Run(pA, lda, transA, pB, ldb, transB, null, m, n, k, pC, ldc, accumulate, pBias, bias.Length, relu: false);
        }
    }

    /// <summary>Floats needed by <see cref="PackB(ReadOnlySpan{float}, int, bool, int, int, Span{float})"/> for an op(b) of k × n.</summary>
    public static int PackedSize(int n, int k)
    {
        if (!Vector256.IsHardwareAccelerated)
        {
            return k * n;
        }
        int size = 0;
        for (int jc = 0; jc < n; jc += NC)
        {
            size += k * ((Math.Min(NC, n - jc) + NR - 1) / NR * NR);
        }
        return size;
    }

    /// <summary>
    /// Packs op(b): [k, n] once into the panel layout the microkernel reads, so a matrix used by
    /// many products (a layer's weights, by every image of a batch) is packed once per step.
    /// </summary>
    public static void PackB(ReadOnlySpan<float> b, int ldb, bool transB, int n, int k, Span<float> packed)
    {
        CheckSizes(b.Length, ldb, transB ? n : k, transB ? k : n, "b");
        if (packed.Length < PackedSize(n, k))
        {
            throw new ArgumentException($"Packed buffer of {packed.Length} is smaller than {PackedSize(n, k)}.", nameof(packed));
        }
        if (!Vector256.IsHardwareAccelerated)
        {
            for (int p = 0; p < k; p++)
            {
                for (int j = 0; j < n; j++)
                {
                    packed[p * n + j] = transB ? b[j * ldb + p] : b[p * ldb + j];
                }
            }
            return;
        }
        if (n == 0 || k == 0)
        {
            return;
        }
        fixed (float* pB = b, dst = packed)
        {
            float* d = dst;
            int kBlock = KBlock(k);
            for (int jc = 0; jc < n; jc += NC)
            {
                int nc = Math.Min(NC, n - jc);
                for (int pc = 0; pc < k; pc += kBlock)
                {
                    int kc = Math.Min(kBlock, k - pc);
                    PackB(pB, ldb, transB, pc, kc, jc, nc, NR, d);
                    d += kc * ((nc + NR - 1) / NR * NR);
                }
            }
        }
    }

    /// <summary>
    /// The blocks of <see cref="PackB(ReadOnlySpan{float}, int, bool, int, int, Span{float})"/>'s
    /// output for an op(b) of k × n, each a work item of <see cref="PackBBlock"/>, so that several
    /// threads can pack one operand (a move through memory: 400 KB for `strong`'s 5×5 kernel of 64 × 64).
    /// </summary>
    public static int PackBBlockCount(int n, int k)
    {
        if (n <= 0 || k <= 0)
        {
            return 0;
        }
        return Vector256.IsHardwareAccelerated ? (n + NC - 1) / NC * ((k + KBlock(k) - 1) / KBlock(k)) : 1;
    }

    /// <summary>
    /// Block <paramref name="block"/> of <see cref="PackBBlockCount"/> of what <see cref="PackB(ReadOnlySpan{float}, int, bool, int, int, Span{float})"/>
    /// writes: the same values in the same places, the blocks together the whole packing.
    /// </summary>
    public static void PackBBlock(ReadOnlySpan<float> b, int ldb, bool transB, int n, int k, int block, Span<float> packed)
    {
        int blocks = PackBBlockCount(n, k);
        if ((uint)block >= (uint)blocks)
        {
            throw new ArgumentOutOfRangeException(nameof(block), block, $"block must be in [0, {blocks}).");
        }
        if (!Vector256.IsHardwareAccelerated)
        {
            PackB(b, ldb, transB, n, k, packed);
            return;
        }
        CheckSizes(b.Length, ldb, transB ? n : k, transB ? k : n, "b");
        if (packed.Length < PackedSize(n, k))
        {
            throw new ArgumentException($"Packed buffer of {packed.Length} is smaller than {PackedSize(n, k)}.", nameof(packed));
        }
        // Blocks in PackB's order: by NC columns, then by kBlock rows; each column block holds all k rows.
        int kBlock = KBlock(k);
        int perColumns = (k + kBlock - 1) / kBlock;
        int jc = block / perColumns * NC, pc = block % perColumns * kBlock;
        int nc = Math.Min(NC, n - jc), kc = Math.Min(kBlock, k - pc);
        int offset = jc * k + pc * ((nc + NR - 1) / NR * NR);
        fixed (float* pB = b, dst = packed)
        {
            PackB(pB, ldb, transB, pc, kc, jc, nc, NR, dst + offset);
        }
    }

    /// <summary>
    /// c = (accumulate ? c : 0) + op(a)·b + bias, with b packed by PackB; with <paramref name="relu"/>
    /// the result is rectified, max(c, 0), in the same pass while each tile is still in L1.
    /// </summary>
    public static void MultiplyPacked(ReadOnlySpan<float> a, int lda, bool transA, ReadOnlySpan<float> packedB, int m, int n, int k, Span<float> c, int ldc, bool accumulate, ReadOnlySpan<float> bias = default, bool relu = false)
    {
        CheckSizes(a.Length, lda, transA ? k : m, transA ? m : k, "a");
        CheckSizes(c.Length, ldc, m, n, "c");
        if (packedB.Length < PackedSize(n, k))
        {
            throw new ArgumentException($"Packed b of {packedB.Length} is smaller than {PackedSize(n, k)}.", nameof(packedB));
        }
        if (!bias.IsEmpty && bias.Length != n)
        {
            throw new ArgumentException($"Bias length {bias.Length} differs from n={n}.", nameof(bias));
        }
        if (m == 0 || n == 0 || k == 0 || !Vector256.IsHardwareAccelerated)
        {
            // Without vectors the packed layout is plain op(b) [k, n].
            Multiply(a, lda, transA, packedB, n, false, m, n, k, c, ldc, accumulate, bias);
            if (relu)
            {
                for (int i = 0; i < m; i++)
                {
                    var row = c.Slice(i * ldc, n);
                    Elementwise.Map<ReluOperator>(row, row);
                }
            }
            return;
        }
        fixed (float* pA = a, pB = packedB, pC = c, pBias = bias)
        {
            Run(pA, lda, transA, null, 0, false, pB, m, n, k, pC, ldc, accumulate, pBias, bias.Length, relu);
        }
    }

    /// <summary>Up to this many rows, packing b costs more than it saves (batch-1 inference).</summary>
    internal const int SmallRows = 4;

    /// <summary>
    /// A few rows of c without packing: each row is built as a sum of rows of b scaled by a's
    /// elements (vector FMA along n). It follows the blocked kernel's k blocks and rounding exactly —
    /// per k block the products are fused into a zeroed accumulator, then bias or the running c is
    /// added — so a sample's result does not depend on the batch it came in.
    /// </summary>
    private static void MultiplyFewRows(ReadOnlySpan<float> a, int lda, bool transA, ReadOnlySpan<float> b, int ldb, int m, int n, int k, Span<float> c, int ldc, bool accumulate, ReadOnlySpan<float> bias)
    {
        Span<float> acc = n <= 1024 ? stackalloc float[n] : new float[n];
        int kBlock = KBlock(k);
        for (int i = 0; i < m; i++)
        {
            var row = c.Slice(i * ldc, n);
            for (int pc = 0; pc < k; pc += kBlock)
            {
                int kc = Math.Min(kBlock, k - pc);
                acc.Clear();
                for (int p = pc; p < pc + kc; p++)
                {
                    float x = transA ? a[p * lda + i] : a[i * lda + p];
                    var bRow = b.Slice(p * ldb, n);
                    int j = 0;
                    if (Vector512.IsHardwareAccelerated)
                    {
                        var xv = Vector512.Create(x);
                        for (; j <= n - Vector512<float>.Count; j += Vector512<float>.Count)
                        {
                            Vector512.FusedMultiplyAdd(xv, Vector512.Create(bRow.Slice(j, Vector512<float>.Count)), Vector512.Create(acc.Slice(j, Vector512<float>.Count))).CopyTo(acc.Slice(j));
                        }
                    }
                    for (; j < n; j++)
                    {
                        acc[j] = MathF.FusedMultiplyAdd(x, bRow[j], acc[j]);
                    }
                }
                bool add = accumulate || pc > 0;
                for (int j = 0; j < n; j++)
                {
                    float v = pc == 0 && !bias.IsEmpty ? acc[j] + bias[j] : acc[j];
                    row[j] = add ? v + row[j] : v;
                }
            }
        }
    }

    /// <summary>
    /// Whether the microkernel may read op(b) = b in place, row p of a panel at b + p·ldb, instead of
    /// packing it: b must not be transposed, every panel must be full (n a multiple of NR), and the
    /// rows must spread over the L1 sets. Rows ldb floats apart fall on 1024/gcd(ldb, 1024) distinct
    /// offsets within a 4 KiB page; below 32 of them a panel crowds into a few sets (narrow b, e.g.
    /// N = 64, measured 2-3x slower). The weight gradient of a convolution, colᵀ·dy with col
    /// [rows, 288 or 800], then skips copying its largest operand.
    /// </summary>
    internal static bool CanReadBInPlace(bool transB, int ldb, int n) =>
        !transB && n % NR == 0 && 1024 / (int)Gcd(ldb, 1024) >= 32;

    private static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);

    // Equal k blocks of at most KC, so no block is a short remainder.
    internal static int KBlock(int k) => (k + (k + KC - 1) / KC - 1) / ((k + KC - 1) / KC);

    // The blocked product over raw pointers; b comes either as (pB, ldb, transB), packed here block
    // by block, or already packed (prepacked, laid out by PackB).
    private static void Run(float* pA, int lda, bool transA, float* pB, int ldb, bool transB, float* prepacked, int m, int n, int k, float* pC, int ldc, bool accumulate, float* pBias, int biasLength, bool relu)
    {
        int nr = NR;
        int packBSize = prepacked is null ? Math.Min(k, KC) * ((Math.Min(n, NC) + nr - 1) / nr * nr) : 0;
        var packA = t_packA is { } pa && pa.Length >= MC * KC ? pa : (t_packA = GC.AllocateArray<float>(MC * KC, pinned: true));
        var packB = prepacked is not null ? [] : t_packB is { } pb && pb.Length >= packBSize ? pb : (t_packB = GC.AllocateArray<float>(Math.Max(packBSize, KC * NC / 4), pinned: true));
        float* edge = stackalloc float[MR * 32];
        // The microkernel reads nr bias values: a short last panel's bias (e.g. Dense(10)'s, the last
        // values of a model's parameter buffer) is copied here, zero-padded, rather than read past its end.
        float* edgeBias = stackalloc float[32];
        bool hasBias = biasLength > 0;
        float* packedNext = prepacked;
        bool readBInPlace = prepacked is null && CanReadBInPlace(transB, ldb, n);

        fixed (float* bufA = packA, scratchB = packB)
        {
            for (int jc = 0; jc < n; jc += NC)
            {
                int nc = Math.Min(NC, n - jc);
                int kBlock = KBlock(k);
                for (int pc = 0; pc < k; pc += kBlock)
                {
                    int kc = Math.Min(kBlock, k - pc);
                    bool add = accumulate || pc > 0;
                    bool rectify = relu && pc + kc >= k;
                    float* biasBlock = hasBias && pc == 0 ? pBias + jc : null;
                    float* bufB = scratchB;
                    nint bStride = nr;
                    if (prepacked is not null)
                    {
                        bufB = packedNext;
                        packedNext += kc * ((nc + nr - 1) / nr * nr);
                    }
                    else if (readBInPlace)
                    {
                        bufB = pB + (long)pc * ldb + jc;
                        bStride = ldb;
                    }
                    else
                    {
                        PackB(pB, ldb, transB, pc, kc, jc, nc, nr, bufB);
                    }
                    for (int ic = 0; ic < m; ic += MC)
                    {
                        int mc = Math.Min(MC, m - ic);
                        if (transA)
                        {
                            // Rows of a transposed a are columns in memory: pack the block once so the
                            // microkernel reads MR contiguous values per k instead of one cache line each.
                            PackTransposedABlock(pA, lda, ic, mc, pc, kc, bufA);
                        }
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            int cols = Math.Min(nr, nc - jr);
                            float* bPanel = readBInPlace && prepacked is null ? bufB + jr : bufB + jr * kc;
                            float* biasTile = biasBlock is null ? null : biasBlock + jr;
                            if (biasTile is not null && cols < nr)
                            {
                                new ReadOnlySpan<float>(biasTile, cols).CopyTo(new Span<float>(edgeBias, nr));
                                new Span<float>(edgeBias + cols, nr - cols).Clear();
                                biasTile = edgeBias;
                            }
                            for (int ir = 0; ir < mc; ir += MR)
                            {
                                int rows = Math.Min(MR, mc - ir);
                                float* cTile = pC + (long)(ic + ir) * ldc + jc + jr;
                                float* aPanel;
                                nint rs, cs;
                                if (transA)
                                {
                                    aPanel = bufA + ir * kc;
                                    (rs, cs) = (1, MR);
                                }
                                else
                                {
                                    aPanel = pA + (ic + ir) * (nint)lda + pc;
                                    (rs, cs) = (lda, 1);
                                }
                                if (cols == nr)
                                {
                                    Microkernel(rows, kc, aPanel, rs, cs, bPanel, bStride, cTile, ldc, add, biasTile);
                                }
                                else
                                {
                                    // A short last panel: its rows into a scratch block, then the valid columns added.
                                    Microkernel(rows, kc, aPanel, rs, cs, bPanel, bStride, edge, nr, false, biasTile);
                                    for (int i = 0; i < rows; i++)
                                    {
                                        for (int j = 0; j < cols; j++)
                                        {
                                            cTile[i * ldc + j] = add ? cTile[i * ldc + j] + edge[i * nr + j] : edge[i * nr + j];
                                        }
                                    }
                                }
                                if (rectify)
                                {
                                    for (int i = 0; i < rows; i++)
                                    {
                                        var row = new Span<float>(cTile + (long)i * ldc, cols);
                                        Elementwise.Map<ReluOperator>(row, row);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

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

    // Packs rows [ic, ic + mc) of op(A) = aᵀ (a: [k, lda]) over k in [pc, pc + kc) as panels of MR:
    // panel p holds [kk * MR + ii]; reads each row of a once, front to back.
    private static void PackTransposedABlock(float* a, int lda, int ic, int mc, int pc, int kc, float* dst)
    {
        int full = mc / MR * MR;
        for (int kk = 0; kk < kc; kk++)
        {
            float* src = a + (long)(pc + kk) * lda + ic;
            float* d = dst + kk * MR;
            for (int ir = 0; ir < full; ir += MR)
            {
                Vector128.Store(Vector128.Load(src + ir), d);
                d[4] = src[ir + 4];
                d[5] = src[ir + 5];
                d += kc * MR;
            }
            if (full < mc)
            {
                int ii = 0;
                for (; ii < mc - full; ii++)
                {
                    d[ii] = src[full + ii];
                }
                for (; ii < MR; ii++)
                {
                    d[ii] = 0;
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
            if (transB && cols == nr && Avx.IsSupported)
            {
                // b: [n, ldb]; a full panel by 8×8 blocks in registers, the last kc % 8 rows value by value.
                int kc8 = kc & ~7;
                float* src = b + (long)(jc + jr) * ldb + pc;
                for (int kk = 0; kk < kc8; kk += 8)
                {
                    for (int jj = 0; jj < nr; jj += 8)
                    {
                        Layouts.Transpose8x8(src + (long)jj * ldb + kk, ldb, panel + (long)kk * nr + jj, nr);
                    }
                }
                for (int kk = kc8; kk < kc; kk++)
                {
                    for (int jj = 0; jj < nr; jj++)
                    {
                        panel[kk * nr + jj] = src[(long)jj * ldb + kk];
                    }
                }
            }
            else if (transB)
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

    // The microkernel for the rows of a tile: a tile of MR rows, or the shorter last one of a block,
    // whose missing rows are neither computed nor stored. Each element's sum is the same either way.
    private static void Microkernel(int rows, int kc, float* a, nint rs, nint cs, float* b, nint bs, float* c, int ldc, bool accumulate, float* bias)
    {
        switch (rows)
        {
            case MR:
                Microkernel<Rows6>(kc, a, rs, cs, b, bs, c, ldc, accumulate, bias);
                break;
            case 5:
                Microkernel<Rows5>(kc, a, rs, cs, b, bs, c, ldc, accumulate, bias);
                break;
            case 4:
                Microkernel<Rows4>(kc, a, rs, cs, b, bs, c, ldc, accumulate, bias);
                break;
            case 3:
                Microkernel<Rows3>(kc, a, rs, cs, b, bs, c, ldc, accumulate, bias);
                break;
            case 2:
                Microkernel<Rows2>(kc, a, rs, cs, b, bs, c, ldc, accumulate, bias);
                break;
            default:
                Microkernel<Rows1>(kc, a, rs, cs, b, bs, c, ldc, accumulate, bias);
                break;
        }
    }

    // A tile's row count as a type, so the JIT compiles one microkernel per count with the rows past
    // it removed (a runtime count would keep every row's branch in the inner loop).
    private interface IRows
    {
        static abstract int Count { get; }
    }

    private struct Rows1 : IRows
    {
        public static int Count => 1;
    }

    private struct Rows2 : IRows
    {
        public static int Count => 2;
    }

    private struct Rows3 : IRows
    {
        public static int Count => 3;
    }

    private struct Rows4 : IRows
    {
        public static int Count => 4;
    }

    private struct Rows5 : IRows
    {
        public static int Count => 5;
    }

    private struct Rows6 : IRows
    {
        public static int Count => MR;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Microkernel<TRows>(int kc, float* a, nint rs, nint cs, float* b, nint bs, float* c, int ldc, bool accumulate, float* bias)
        where TRows : struct, IRows
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Microkernel512<TRows>(kc, a, rs, cs, b, bs, c, ldc, accumulate, bias);
        }
        else
        {
            Microkernel256<TRows>(kc, a, rs, cs, b, bs, c, ldc, accumulate, bias);
        }
    }

    // c: [rows, 32] block with row stride ldc (+= or =, plus bias[0..32] when given), rows = TRows.Count ≤ 6;
    // a: element (r, p) at a[r * rs + p * cs]; b: row p at b + p * bs, 32 wide.
    private static void Microkernel512<TRows>(int kc, float* a, nint rs, nint cs, float* b, nint bs, float* c, int ldc, bool accumulate, float* bias)
        where TRows : struct, IRows
    {
        int rows = TRows.Count;
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        nint rs2 = 2 * rs, rs3 = 3 * rs, rs4 = 4 * rs, rs5 = 5 * rs;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            if (rows > 1)
            {
                x = Vector512.Create(a[rs]);
                c10 = Vector512.FusedMultiplyAdd(x, b0, c10);
                c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            }
            if (rows > 2)
            {
                x = Vector512.Create(a[rs2]);
                c20 = Vector512.FusedMultiplyAdd(x, b0, c20);
                c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            }
            if (rows > 3)
            {
                x = Vector512.Create(a[rs3]);
                c30 = Vector512.FusedMultiplyAdd(x, b0, c30);
                c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            }
            if (rows > 4)
            {
                x = Vector512.Create(a[rs4]);
                c40 = Vector512.FusedMultiplyAdd(x, b0, c40);
                c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            }
            if (rows > 5)
            {
                x = Vector512.Create(a[rs5]);
                c50 = Vector512.FusedMultiplyAdd(x, b0, c50);
                c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            }
            a += cs;
            b += bs;
        }
        var bias0 = bias is null ? Vector512<float>.Zero : Vector512.Load(bias);
        var bias1 = bias is null ? Vector512<float>.Zero : Vector512.Load(bias + 16);
        Store512(c, accumulate, c00 + bias0, c01 + bias1);
        if (rows > 1)
        {
            Store512(c + ldc, accumulate, c10 + bias0, c11 + bias1);
        }
        if (rows > 2)
        {
            Store512(c + 2 * ldc, accumulate, c20 + bias0, c21 + bias1);
        }
        if (rows > 3)
        {
            Store512(c + 3 * ldc, accumulate, c30 + bias0, c31 + bias1);
        }
        if (rows > 4)
        {
            Store512(c + 4 * ldc, accumulate, c40 + bias0, c41 + bias1);
        }
        if (rows > 5)
        {
            Store512(c + 5 * ldc, accumulate, c50 + bias0, c51 + bias1);
        }
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

    // c: [rows, 16] block; otherwise as Microkernel512.
    private static void Microkernel256<TRows>(int kc, float* a, nint rs, nint cs, float* b, nint bs, float* c, int ldc, bool accumulate, float* bias)
        where TRows : struct, IRows
    {
        int rows = TRows.Count;
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        nint rs2 = 2 * rs, rs3 = 3 * rs, rs4 = 4 * rs, rs5 = 5 * rs;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00);
            c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            if (rows > 1)
            {
                x = Vector256.Create(a[rs]);
                c10 = Vector256.FusedMultiplyAdd(x, b0, c10);
                c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            }
            if (rows > 2)
            {
                x = Vector256.Create(a[rs2]);
                c20 = Vector256.FusedMultiplyAdd(x, b0, c20);
                c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            }
            if (rows > 3)
            {
                x = Vector256.Create(a[rs3]);
                c30 = Vector256.FusedMultiplyAdd(x, b0, c30);
                c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            }
            if (rows > 4)
            {
                x = Vector256.Create(a[rs4]);
                c40 = Vector256.FusedMultiplyAdd(x, b0, c40);
                c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            }
            if (rows > 5)
            {
                x = Vector256.Create(a[rs5]);
                c50 = Vector256.FusedMultiplyAdd(x, b0, c50);
                c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            }
            a += cs;
            b += bs;
        }
        var bias0 = bias is null ? Vector256<float>.Zero : Vector256.Load(bias);
        var bias1 = bias is null ? Vector256<float>.Zero : Vector256.Load(bias + 8);
        Store256(c, accumulate, c00 + bias0, c01 + bias1);
        if (rows > 1)
        {
            Store256(c + ldc, accumulate, c10 + bias0, c11 + bias1);
        }
        if (rows > 2)
        {
            Store256(c + 2 * ldc, accumulate, c20 + bias0, c21 + bias1);
        }
        if (rows > 3)
        {
            Store256(c + 3 * ldc, accumulate, c30 + bias0, c31 + bias1);
        }
        if (rows > 4)
        {
            Store256(c + 4 * ldc, accumulate, c40 + bias0, c41 + bias1);
        }
        if (rows > 5)
        {
            Store256(c + 5 * ldc, accumulate, c50 + bias0, c51 + bias1);
        }
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
    public static void MultiplyScalar(ReadOnlySpan<float> a, int lda, bool transA, ReadOnlySpan<float> b, int ldb, bool transB, int m, int n, int k, Span<float> c, int ldc, bool accumulate, ReadOnlySpan<float> bias = default)
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
                if (!bias.IsEmpty)
                {
                    sum += bias[j];
                }
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
            }
        }
    }
}
