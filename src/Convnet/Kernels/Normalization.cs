using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Convnet.Kernels;

/// <summary>
/// Batch normalization's passes over channels-last rows: x is [rows, C], channel c every C-th value.
/// Statistics are accumulated in double, row after row, so each channel's sum has one fixed order;
/// the vector forms run 8 channels at a time (widened to two 4-double vectors) in exactly that order,
/// so they equal their scalar twins bit for bit. 256-bit vectors only: a statistics pass is bound by
/// each channel's chain of adds (a load and a store of its sum per row), which wider vectors do not
/// shorten; 512-bit ones measured slower (docs/benchmarks.md, "Issue 18, fourth session").
/// </summary>
public static class Normalization
{
    /// <summary>Adds each channel's sum over the rows to <paramref name="sums"/>, in double, row by row.</summary>
    // x: [rows, C] → sums: [C] += Σ_rows x
    public static void AddChannelSums(ReadOnlySpan<float> x, int channels, Span<double> sums)
    {
        int rows = CheckRows(x.Length, channels, sums.Length);
        int vectorEnd = Vector256.IsHardwareAccelerated ? channels & ~7 : 0;
        ref float px = ref MemoryMarshal.GetReference(x);
        ref double ps = ref MemoryMarshal.GetReference(sums);
        for (int r = 0; r < rows; r++)
        {
            ref float row = ref Unsafe.Add(ref px, r * channels);
            int c = 0;
            for (; c < vectorEnd; c += 8)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref row, (nuint)c));
                (Vector256.LoadUnsafe(ref ps, (nuint)c) + lo).StoreUnsafe(ref ps, (nuint)c);
                (Vector256.LoadUnsafe(ref ps, (nuint)c + 4) + hi).StoreUnsafe(ref ps, (nuint)c + 4);
            }
            for (; c < channels; c++)
            {
                Unsafe.Add(ref ps, c) += Unsafe.Add(ref row, c);
            }
        }
    }

    /// <summary>The scalar twin of <see cref="AddChannelSums"/>.</summary>
    public static void AddChannelSumsScalar(ReadOnlySpan<float> x, int channels, Span<double> sums)
    {
        for (int r = 0; r < x.Length; r += channels)
        {
            for (int c = 0; c < channels; c++)
            {
                sums[c] += x[r + c];
            }
        }
    }

    /// <summary>Adds each channel's Σ (x − mean)² over the rows to <paramref name="sums"/>, in double, row by row.</summary>
    // x: [rows, C], mean: [C] → sums: [C] += Σ_rows (x − mean)²
    public static void AddSquaredDeviations(ReadOnlySpan<float> x, ReadOnlySpan<double> mean, int channels, Span<double> sums)
    {
        int rows = CheckRows(x.Length, channels, sums.Length);
        CheckLength(mean.Length, channels, nameof(mean));
        int vectorEnd = Vector256.IsHardwareAccelerated ? channels & ~7 : 0;
        ref float px = ref MemoryMarshal.GetReference(x);
        ref double pm = ref MemoryMarshal.GetReference(mean);
        ref double ps = ref MemoryMarshal.GetReference(sums);
        for (int r = 0; r < rows; r++)
        {
            ref float row = ref Unsafe.Add(ref px, r * channels);
            int c = 0;
            for (; c < vectorEnd; c += 8)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref row, (nuint)c));
                var dlo = lo - Vector256.LoadUnsafe(ref pm, (nuint)c);
                var dhi = hi - Vector256.LoadUnsafe(ref pm, (nuint)c + 4);
                (Vector256.LoadUnsafe(ref ps, (nuint)c) + dlo * dlo).StoreUnsafe(ref ps, (nuint)c);
                (Vector256.LoadUnsafe(ref ps, (nuint)c + 4) + dhi * dhi).StoreUnsafe(ref ps, (nuint)c + 4);
            }
            for (; c < channels; c++)
            {
                double d = Unsafe.Add(ref row, c) - Unsafe.Add(ref pm, c);
                Unsafe.Add(ref ps, c) += d * d;
            }
        }
    }

    /// <summary>The scalar twin of <see cref="AddSquaredDeviations"/>.</summary>
    public static void AddSquaredDeviationsScalar(ReadOnlySpan<float> x, ReadOnlySpan<double> mean, int channels, Span<double> sums)
    {
        for (int r = 0; r < x.Length; r += channels)
        {
            for (int c = 0; c < channels; c++)
            {
                double d = x[r + c] - mean[c];
                sums[c] += d * d;
            }
        }
    }

    // x: [rows, C]; shift, invStd, gamma, beta: [C] → y = γ·x̂ + β with x̂ = (x − shift)·invStd.
    // x̂ is not stored: the gradient passes recompute it from x with the same two float operations.
    /// <summary>Normalizes each channel with the given shift and inverse standard deviation, then scales by γ and shifts by β.</summary>
    public static void Normalize(ReadOnlySpan<float> x, ReadOnlySpan<float> shift, ReadOnlySpan<float> invStd, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, int channels, Span<float> y)
    {
        int rows = CheckRows(x.Length, channels, shift.Length);
        CheckLength(invStd.Length, channels, nameof(invStd));
        CheckLength(gamma.Length, channels, nameof(gamma));
        CheckLength(beta.Length, channels, nameof(beta));
        CheckLength(y.Length, x.Length, nameof(y));
        int vectorEnd = Vector256.IsHardwareAccelerated ? channels & ~7 : 0;
        ref float pShift = ref MemoryMarshal.GetReference(shift);
        ref float pInv = ref MemoryMarshal.GetReference(invStd);
        ref float pGamma = ref MemoryMarshal.GetReference(gamma);
        ref float pBeta = ref MemoryMarshal.GetReference(beta);
        for (int r = 0; r < rows; r++)
        {
            ref float rx = ref Unsafe.Add(ref MemoryMarshal.GetReference(x), r * channels);
            ref float ry = ref Unsafe.Add(ref MemoryMarshal.GetReference(y), r * channels);
            int c = 0;
            for (; c < vectorEnd; c += 8)
            {
                var h = (Vector256.LoadUnsafe(ref rx, (nuint)c) - Vector256.LoadUnsafe(ref pShift, (nuint)c)) * Vector256.LoadUnsafe(ref pInv, (nuint)c);
                (Vector256.LoadUnsafe(ref pGamma, (nuint)c) * h + Vector256.LoadUnsafe(ref pBeta, (nuint)c)).StoreUnsafe(ref ry, (nuint)c);
            }
            for (; c < channels; c++)
            {
                float h = (Unsafe.Add(ref rx, c) - Unsafe.Add(ref pShift, c)) * Unsafe.Add(ref pInv, c);
                Unsafe.Add(ref ry, c) = Unsafe.Add(ref pGamma, c) * h + Unsafe.Add(ref pBeta, c);
            }
        }
    }

    /// <summary>The scalar twin of <see cref="Normalize"/>.</summary>
    public static void NormalizeScalar(ReadOnlySpan<float> x, ReadOnlySpan<float> shift, ReadOnlySpan<float> invStd, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, int channels, Span<float> y)
    {
        for (int r = 0; r < x.Length; r += channels)
        {
            for (int c = 0; c < channels; c++)
            {
                float h = (x[r + c] - shift[c]) * invStd[c];
                y[r + c] = gamma[c] * h + beta[c];
            }
        }
    }

    // dy, x: [rows, C]; shift, invStd: [C] → sumDy: [C] += Σ dy, sumDyXhat: [C] += Σ dy·x̂ (x̂ = (x − shift)·invStd, as Normalize)
    /// <summary>Adds each channel's Σ dy and Σ dy·x̂ over the rows, in double, row by row (x̂ recomputed from x).</summary>
    public static void AddGradientSums(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> shift, ReadOnlySpan<float> invStd, int channels, Span<double> sumDy, Span<double> sumDyXhat)
    {
        int rows = CheckRows(dy.Length, channels, sumDy.Length);
        CheckLength(x.Length, dy.Length, nameof(x));
        CheckLength(shift.Length, channels, nameof(shift));
        CheckLength(invStd.Length, channels, nameof(invStd));
        CheckLength(sumDyXhat.Length, channels, nameof(sumDyXhat));
        int vectorEnd = Vector256.IsHardwareAccelerated ? channels & ~7 : 0;
        ref float pShift = ref MemoryMarshal.GetReference(shift);
        ref float pInv = ref MemoryMarshal.GetReference(invStd);
        ref double ps = ref MemoryMarshal.GetReference(sumDy);
        ref double pp = ref MemoryMarshal.GetReference(sumDyXhat);
        for (int r = 0; r < rows; r++)
        {
            ref float rd = ref Unsafe.Add(ref MemoryMarshal.GetReference(dy), r * channels);
            ref float rx = ref Unsafe.Add(ref MemoryMarshal.GetReference(x), r * channels);
            int c = 0;
            for (; c < vectorEnd; c += 8)
            {
                var h = (Vector256.LoadUnsafe(ref rx, (nuint)c) - Vector256.LoadUnsafe(ref pShift, (nuint)c)) * Vector256.LoadUnsafe(ref pInv, (nuint)c);
                var (dlo, dhi) = Vector256.Widen(Vector256.LoadUnsafe(ref rd, (nuint)c));
                var (hlo, hhi) = Vector256.Widen(h);
                (Vector256.LoadUnsafe(ref ps, (nuint)c) + dlo).StoreUnsafe(ref ps, (nuint)c);
                (Vector256.LoadUnsafe(ref ps, (nuint)c + 4) + dhi).StoreUnsafe(ref ps, (nuint)c + 4);
                // A product of two floats is exact in double, so this matches the scalar form.
                (Vector256.LoadUnsafe(ref pp, (nuint)c) + dlo * hlo).StoreUnsafe(ref pp, (nuint)c);
                (Vector256.LoadUnsafe(ref pp, (nuint)c + 4) + dhi * hhi).StoreUnsafe(ref pp, (nuint)c + 4);
            }
            for (; c < channels; c++)
            {
                float d = Unsafe.Add(ref rd, c);
                float h = (Unsafe.Add(ref rx, c) - Unsafe.Add(ref pShift, c)) * Unsafe.Add(ref pInv, c);
                Unsafe.Add(ref ps, c) += d;
                Unsafe.Add(ref pp, c) += (double)d * h;
            }
        }
    }

    /// <summary>The scalar twin of <see cref="AddGradientSums"/>.</summary>
    public static void AddGradientSumsScalar(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> shift, ReadOnlySpan<float> invStd, int channels, Span<double> sumDy, Span<double> sumDyXhat)
    {
        for (int r = 0; r < dy.Length; r += channels)
        {
            for (int c = 0; c < channels; c++)
            {
                float h = (x[r + c] - shift[c]) * invStd[c];
                sumDy[c] += dy[r + c];
                sumDyXhat[c] += (double)dy[r + c] * h;
            }
        }
    }

    // dy, x: [rows, C]; shift, invStd, scale = γ/σ, meanDy, meanDyXhat: [C] →
    // dx = scale·(dy − meanDy − x̂·meanDyXhat) with x̂ = (x − shift)·invStd as Normalize,
    // and 0 wherever x ≤ 0 when rectify is set (x is then a preceding ReLU's output: its mask).
    /// <summary>The input gradient of batch normalization (x̂ recomputed from x), optionally masked by a preceding ReLU.</summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> shift, ReadOnlySpan<float> invStd, ReadOnlySpan<float> scale, ReadOnlySpan<double> meanDy, ReadOnlySpan<double> meanDyXhat, bool rectify, int channels, Span<float> dx)
    {
        int rows = CheckRows(dy.Length, channels, scale.Length);
        CheckLength(x.Length, dy.Length, nameof(x));
        CheckLength(shift.Length, channels, nameof(shift));
        CheckLength(invStd.Length, channels, nameof(invStd));
        CheckLength(meanDy.Length, channels, nameof(meanDy));
        CheckLength(meanDyXhat.Length, channels, nameof(meanDyXhat));
        CheckLength(dx.Length, dy.Length, nameof(dx));
        int vectorEnd = Vector256.IsHardwareAccelerated ? channels & ~7 : 0;
        ref float pShift = ref MemoryMarshal.GetReference(shift);
        ref float pInv = ref MemoryMarshal.GetReference(invStd);
        ref float pScale = ref MemoryMarshal.GetReference(scale);
        ref double pa = ref MemoryMarshal.GetReference(meanDy);
        ref double pb = ref MemoryMarshal.GetReference(meanDyXhat);
        for (int r = 0; r < rows; r++)
        {
            ref float rd = ref Unsafe.Add(ref MemoryMarshal.GetReference(dy), r * channels);
            ref float rx = ref Unsafe.Add(ref MemoryMarshal.GetReference(x), r * channels);
            ref float rdx = ref Unsafe.Add(ref MemoryMarshal.GetReference(dx), r * channels);
            int c = 0;
            for (; c < vectorEnd; c += 8)
            {
                var xv = Vector256.LoadUnsafe(ref rx, (nuint)c);
                var h = (xv - Vector256.LoadUnsafe(ref pShift, (nuint)c)) * Vector256.LoadUnsafe(ref pInv, (nuint)c);
                var (dlo, dhi) = Vector256.Widen(Vector256.LoadUnsafe(ref rd, (nuint)c));
                var (hlo, hhi) = Vector256.Widen(h);
                var lo = dlo - Vector256.LoadUnsafe(ref pa, (nuint)c) - hlo * Vector256.LoadUnsafe(ref pb, (nuint)c);
                var hi = dhi - Vector256.LoadUnsafe(ref pa, (nuint)c + 4) - hhi * Vector256.LoadUnsafe(ref pb, (nuint)c + 4);
                var v = Vector256.LoadUnsafe(ref pScale, (nuint)c) * Vector256.Narrow(lo, hi);
                if (rectify)
                {
                    v = Vector256.ConditionalSelect(Vector256.GreaterThan(xv, Vector256<float>.Zero), v, Vector256<float>.Zero);
                }
                v.StoreUnsafe(ref rdx, (nuint)c);
            }
            for (; c < channels; c++)
            {
                float xc = Unsafe.Add(ref rx, c);
                float h = (xc - Unsafe.Add(ref pShift, c)) * Unsafe.Add(ref pInv, c);
                float v = Unsafe.Add(ref pScale, c) * (float)(Unsafe.Add(ref rd, c) - Unsafe.Add(ref pa, c) - h * Unsafe.Add(ref pb, c));
                Unsafe.Add(ref rdx, c) = !rectify || xc > 0 ? v : 0;
            }
        }
    }

    /// <summary>The scalar twin of <see cref="Backward"/>.</summary>
    public static void BackwardScalar(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> shift, ReadOnlySpan<float> invStd, ReadOnlySpan<float> scale, ReadOnlySpan<double> meanDy, ReadOnlySpan<double> meanDyXhat, bool rectify, int channels, Span<float> dx)
    {
        for (int r = 0; r < dy.Length; r += channels)
        {
            for (int c = 0; c < channels; c++)
            {
                float h = (x[r + c] - shift[c]) * invStd[c];
                float v = scale[c] * (float)(dy[r + c] - meanDy[c] - h * meanDyXhat[c]);
                dx[r + c] = !rectify || x[r + c] > 0 ? v : 0;
            }
        }
    }

    private static int CheckRows(int length, int channels, int perChannel)
    {
        if (channels < 1 || length % channels != 0)
        {
            throw new ArgumentException($"Length {length} is not a whole number of rows of {channels} channels.");
        }
        CheckLength(perChannel, channels, "per-channel");
        return length / channels;
    }

    private static void CheckLength(int actual, int expected, string name)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"{name} has length {actual}, expected {expected}.", name);
        }
    }
}
