using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Convnet.Kernels;

/// <summary>
/// One row times a matrix packed by <see cref="Gemm.PackB(ReadOnlySpan{float}, int, bool, int, int, Span{float})"/>:
/// the batch-1 case of <see cref="Gemm.MultiplyPacked"/>, which would compute a whole 6-row tile for it.
/// It reads the panels two at a time (eight independent FMA chains) and follows the blocked
/// kernel's k blocks and rounding exactly — per block a sum fused from 0, then + bias (first block)
/// or + the running c — so a row gets the same bits as in a batch.
/// </summary>
public static class Gemv
{
    /// <summary>c = a·b + bias, rectified when <paramref name="relu"/>; b: [k, n] packed.</summary>
    // a: [k], packedB: PackB of [k, n], bias: [n] or empty → c: [n]
    public static void MultiplyPacked(ReadOnlySpan<float> a, ReadOnlySpan<float> packedB, int n, int k, Span<float> c, ReadOnlySpan<float> bias, bool relu)
    {
        if (a.Length < k || c.Length < n || packedB.Length < Gemm.PackedSize(n, k) || (!bias.IsEmpty && bias.Length != n))
        {
            throw new ArgumentException($"Row of {a.Length}, packed b of {packedB.Length}, c of {c.Length} and bias of {bias.Length} values for k={k}, n={n}.");
        }
        if (Gemm.NR != 32 || !Vector256.IsHardwareAccelerated || n == 0 || k == 0)
        {
            Gemm.MultiplyPacked(a[..k], k, false, packedB, 1, n, k, c[..n], n, accumulate: false, bias, relu);
            return;
        }
        MultiplyPacked32(a, packedB, n, k, c, bias, relu, 0, n);
    }

    /// <summary>
    /// Up to <see cref="Gemm.SmallRows"/> rows at once, each with <see cref="MultiplyPacked"/>'s bits:
    /// every panel of b is read once for all the rows rather than once per row (the few tiles of a
    /// small Winograd map, a batch of a few images).
    /// </summary>
    // a: [rows, lda], packedB: PackB of [k, n], bias: [n] or empty → c: [rows, ldc]
    public static void MultiplyPackedRows(ReadOnlySpan<float> a, int lda, int rows, ReadOnlySpan<float> packedB, int n, int k, Span<float> c, int ldc, ReadOnlySpan<float> bias, bool relu)
    {
        if (rows < 1 || rows > Gemm.SmallRows || lda < k || ldc < n || a.Length < (rows - 1) * lda + k || c.Length < (rows - 1) * ldc + n
            || packedB.Length < Gemm.PackedSize(n, k) || (!bias.IsEmpty && bias.Length != n))
        {
            throw new ArgumentException($"{rows} rows of {a.Length} values (stride {lda}), packed b of {packedB.Length}, c of {c.Length} (stride {ldc}) and bias of {bias.Length} values for k={k}, n={n}.");
        }
        if (rows == 1 || Gemm.NR != 32 || !Vector256.IsHardwareAccelerated || n == 0 || k == 0)
        {
            for (int r = 0; r < rows; r++)
            {
                MultiplyPacked(a.Slice(r * lda, k), packedB, n, k, c.Slice(r * ldc, n), bias, relu);
            }
            return;
        }
        MultiplyRows32(a, lda, rows, packedB, n, k, c, ldc, bias, relu);
    }

    // Panels of 32 columns, four rows (a missing row repeats the last; only real rows are stored):
    // sixteen chains, each panel row loaded once for the four rows.
    private static void MultiplyRows32(ReadOnlySpan<float> a, int lda, int rows, ReadOnlySpan<float> packedB, int n, int k, Span<float> c, int ldc, ReadOnlySpan<float> bias, bool relu)
    {
        const int nr = 32;
        Span<float> sums = stackalloc float[4 * nr];
        ref float pb = ref MemoryMarshal.GetReference(packedB);
        ref float a0 = ref MemoryMarshal.GetReference(a);
        ref float a1 = ref Unsafe.Add(ref a0, Math.Min(1, rows - 1) * lda);
        ref float a2 = ref Unsafe.Add(ref a0, Math.Min(2, rows - 1) * lda);
        ref float a3 = ref Unsafe.Add(ref a0, Math.Min(3, rows - 1) * lda);
        int kBlock = Gemm.KBlock(k);
        nuint block = 0;
        for (int jc = 0; jc < n; jc += Gemm.NC)
        {
            int nc = Math.Min(Gemm.NC, n - jc);
            int panels = (nc + nr - 1) / nr;
            for (int pc = 0; pc < k; pc += kBlock)
            {
                int kc = Math.Min(kBlock, k - pc);
                for (int panel = 0; panel < panels; panel++)
                {
                    nuint p0 = block + (nuint)(panel * nr * kc);
                    Vector256<float> s00 = default, s01 = default, s02 = default, s03 = default;
                    Vector256<float> s10 = default, s11 = default, s12 = default, s13 = default;
                    Vector256<float> s20 = default, s21 = default, s22 = default, s23 = default;
                    Vector256<float> s30 = default, s31 = default, s32 = default, s33 = default;
                    for (int p = 0; p < kc; p++)
                    {
                        nuint r = p0 + (nuint)(p * nr);
                        var b0 = Vector256.LoadUnsafe(ref pb, r);
                        var b1 = Vector256.LoadUnsafe(ref pb, r + 8);
                        var b2 = Vector256.LoadUnsafe(ref pb, r + 16);
                        var b3 = Vector256.LoadUnsafe(ref pb, r + 24);
                        var x = Vector256.Create(Unsafe.Add(ref a0, pc + p));
                        s00 = Vector256.FusedMultiplyAdd(x, b0, s00);
                        s01 = Vector256.FusedMultiplyAdd(x, b1, s01);
                        s02 = Vector256.FusedMultiplyAdd(x, b2, s02);
                        s03 = Vector256.FusedMultiplyAdd(x, b3, s03);
                        x = Vector256.Create(Unsafe.Add(ref a1, pc + p));
                        s10 = Vector256.FusedMultiplyAdd(x, b0, s10);
                        s11 = Vector256.FusedMultiplyAdd(x, b1, s11);
                        s12 = Vector256.FusedMultiplyAdd(x, b2, s12);
                        s13 = Vector256.FusedMultiplyAdd(x, b3, s13);
                        x = Vector256.Create(Unsafe.Add(ref a2, pc + p));
                        s20 = Vector256.FusedMultiplyAdd(x, b0, s20);
                        s21 = Vector256.FusedMultiplyAdd(x, b1, s21);
                        s22 = Vector256.FusedMultiplyAdd(x, b2, s22);
                        s23 = Vector256.FusedMultiplyAdd(x, b3, s23);
                        x = Vector256.Create(Unsafe.Add(ref a3, pc + p));
                        s30 = Vector256.FusedMultiplyAdd(x, b0, s30);
                        s31 = Vector256.FusedMultiplyAdd(x, b1, s31);
                        s32 = Vector256.FusedMultiplyAdd(x, b2, s32);
                        s33 = Vector256.FusedMultiplyAdd(x, b3, s33);
                    }
                    s00.CopyTo(sums);
                    s01.CopyTo(sums[8..]);
                    s02.CopyTo(sums[16..]);
                    s03.CopyTo(sums[24..]);
                    s10.CopyTo(sums[32..]);
                    s11.CopyTo(sums[40..]);
                    s12.CopyTo(sums[48..]);
                    s13.CopyTo(sums[56..]);
                    s20.CopyTo(sums[64..]);
                    s21.CopyTo(sums[72..]);
                    s22.CopyTo(sums[80..]);
                    s23.CopyTo(sums[88..]);
                    s30.CopyTo(sums[96..]);
                    s31.CopyTo(sums[104..]);
                    s32.CopyTo(sums[112..]);
                    s33.CopyTo(sums[120..]);
                    int j0 = jc + panel * nr;
                    int cols = Math.Min(nr, n - j0);
                    bool last = pc + kc >= k;
                    for (int row = 0; row < rows; row++)
                    {
                        var cr = c.Slice(row * ldc, n);
                        for (int j = 0; j < cols; j++)
                        {
                            // As the microkernel's store: the block's sum + bias (0 after the first block), then + c.
                            float v = sums[row * nr + j] + (pc == 0 && !bias.IsEmpty ? bias[j0 + j] : 0f);
                            v = pc == 0 ? v : cr[j0 + j] + v;
                            cr[j0 + j] = last && relu ? MathF.Max(v, 0) : v;
                        }
                    }
                }
                block += (nuint)(kc * panels * nr);
            }
        }
    }

    /// <summary>Columns a <see cref="MultiplyPackedColumns"/> band starts at a multiple of (two panels).</summary>
    public static int ColumnBlock => 2 * Gemm.NR;

    /// <summary>Whether <see cref="MultiplyPackedColumns"/> runs here (32-column panels and Vector256).</summary>
    public static bool CanSplitColumns => Gemm.NR == 32 && Vector256.IsHardwareAccelerated;

    /// <summary>
    /// <see cref="MultiplyPacked"/>'s columns [<paramref name="firstColumn"/>, + <paramref name="columns"/>)
    /// of c, the same bits, the rest of c untouched: bands of columns can run on different threads.
    /// firstColumn is a multiple of <see cref="ColumnBlock"/>; needs <see cref="CanSplitColumns"/>.
    /// </summary>
    // a: [k], packedB: PackB of [k, n], bias: [n] or empty → c: [n], columns firstColumn.. written
    public static void MultiplyPackedColumns(ReadOnlySpan<float> a, ReadOnlySpan<float> packedB, int n, int k, Span<float> c, ReadOnlySpan<float> bias, bool relu, int firstColumn, int columns)
    {
        if (a.Length < k || c.Length < n || packedB.Length < Gemm.PackedSize(n, k) || (!bias.IsEmpty && bias.Length != n))
        {
            throw new ArgumentException($"Row of {a.Length}, packed b of {packedB.Length}, c of {c.Length} and bias of {bias.Length} values for k={k}, n={n}.");
        }
        if (!CanSplitColumns)
        {
            throw new NotSupportedException("Column bands need 32-column panels and Vector256.");
        }
        if (firstColumn < 0 || columns < 0 || firstColumn + columns > n || firstColumn % ColumnBlock != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(firstColumn), $"Columns {firstColumn}..{firstColumn + columns} of {n} (bands start at multiples of {ColumnBlock}).");
        }
        if (k > 0)
        {
            MultiplyPacked32(a, packedB, n, k, c, bias, relu, firstColumn, firstColumn + columns);
        }
    }

    // Panels of 32 columns: four Vector256 each.
    // Only the panel pairs starting in [columnStart, columnEnd).
    private static void MultiplyPacked32(ReadOnlySpan<float> a, ReadOnlySpan<float> packedB, int n, int k, Span<float> c, ReadOnlySpan<float> bias, bool relu, int columnStart, int columnEnd)
    {
        const int nr = 32;
        Span<float> padded = stackalloc float[2 * nr];
        ref float pa = ref MemoryMarshal.GetReference(a);
        ref float pb = ref MemoryMarshal.GetReference(packedB);
        int kBlock = Gemm.KBlock(k);
        nuint block = 0;
        for (int jc = 0; jc < n; jc += Gemm.NC)
        {
            int nc = Math.Min(Gemm.NC, n - jc);
            int panels = (nc + nr - 1) / nr;
            for (int pc = 0; pc < k; pc += kBlock)
            {
                int kc = Math.Min(kBlock, k - pc);
                for (int panel = 0; panel < panels; panel += 2)
                {
                    if (jc + panel * nr < columnStart || jc + panel * nr >= columnEnd)
                    {
                        continue;
                    }
                    bool two = panel + 1 < panels;
                    nuint p0 = block + (nuint)(panel * nr * kc);
                    nuint p1 = two ? p0 + (nuint)(nr * kc) : p0;
                    Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
                    for (int p = 0; p < kc; p++)
                    {
                        var x = Vector256.Create(Unsafe.Add(ref pa, pc + p));
                        nuint r = (nuint)(p * nr);
                        s0 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref pb, p0 + r), s0);
                        s1 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref pb, p0 + r + 8), s1);
                        s2 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref pb, p0 + r + 16), s2);
                        s3 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref pb, p0 + r + 24), s3);
                        s4 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref pb, p1 + r), s4);
                        s5 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref pb, p1 + r + 8), s5);
                        s6 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref pb, p1 + r + 16), s6);
                        s7 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref pb, p1 + r + 24), s7);
                    }
                    s0.CopyTo(padded);
                    s1.CopyTo(padded[8..]);
                    s2.CopyTo(padded[16..]);
                    s3.CopyTo(padded[24..]);
                    s4.CopyTo(padded[32..]);
                    s5.CopyTo(padded[40..]);
                    s6.CopyTo(padded[48..]);
                    s7.CopyTo(padded[56..]);
                    int j0 = jc + panel * nr;
                    int cols = Math.Min((two ? 2 : 1) * nr, n - j0);
                    bool last = pc + kc >= k;
                    for (int j = 0; j < cols; j++)
                    {
                        // As the microkernel's store: the block's sum + bias (0 after the first block), then + c.
                        float v = padded[j] + (pc == 0 && !bias.IsEmpty ? bias[j0 + j] : 0f);
                        v = pc == 0 ? v : c[j0 + j] + v;
                        c[j0 + j] = last && relu ? MathF.Max(v, 0) : v;
                    }
                }
                block += (nuint)(kc * panels * nr);
            }
        }
    }

    /// <summary>The scalar twin of <see cref="MultiplyPacked"/>: the same sums from the unpacked b [k, n].</summary>
    public static void MultiplyScalar(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int n, int k, Span<float> c, ReadOnlySpan<float> bias, bool relu)
    {
        int kBlock = Gemm.KBlock(k);
        for (int j = 0; j < n; j++)
        {
            float value = 0;
            for (int pc = 0; pc < k; pc += kBlock)
            {
                float sum = 0;
                for (int p = pc; p < Math.Min(k, pc + kBlock); p++)
                {
                    sum = MathF.FusedMultiplyAdd(a[p], b[p * n + j], sum);
                }
                float v = sum + (pc == 0 && !bias.IsEmpty ? bias[j] : 0f);
                value = pc == 0 ? v : value + v;
            }
            c[j] = relu ? MathF.Max(value, 0) : value;
        }
    }
}
