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
