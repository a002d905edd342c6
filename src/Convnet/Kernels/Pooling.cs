using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Convnet.Kernels;

/// <summary>Max and average pooling over channels-last images, forward and backward.</summary>
public static class Pooling
{
    /// <summary>
    /// Max pooling of one channels-last image, keeping for every output the index (into x) of the
    /// input that won; ties go to the first in window order. Vectorised across channels.
    /// </summary>
    // x: [H, W, C] → y: [OH, OW, C], argmax: [OH, OW, C]
    public static void MaxForward(ReadOnlySpan<float> x, in ConvGeometry g, Span<float> y, Span<int> argmax)
    {
        int c = g.Channels;
        if (Vector512.IsHardwareAccelerated && g.KernelHeight == 2 && g.KernelWidth == 2 && g.Stride == 2 && g.PadTop == 0 && g.PadLeft == 0 && c % Vector512<float>.Count == 0)
        {
            MaxForward2x2(x, g, y, argmax);
            return;
        }
        for (int oy = 0; oy < g.OutHeight; oy++)
        {
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                int outBase = (oy * g.OutWidth + ox) * c;
                int ch = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    for (; ch <= c - Vector512<float>.Count; ch += Vector512<float>.Count)
                    {
                        var best = Vector512.Create(float.NegativeInfinity);
                        var bestIndex = Vector512<int>.Zero;
                        for (int ky = 0; ky < g.KernelHeight; ky++)
                        {
                            for (int kx = 0; kx < g.KernelWidth; kx++)
                            {
                                int index = ((oy * g.Stride - g.PadTop + ky) * g.Width + ox * g.Stride - g.PadLeft + kx) * c + ch;
                                var v = Vector512.Create(x.Slice(index, Vector512<float>.Count));
                                var better = Vector512.GreaterThan(v, best);
                                best = Vector512.ConditionalSelect(better, v, best);
                                bestIndex = Vector512.ConditionalSelect(better.AsInt32(), Vector512.Create(index) + Vector512<int>.Indices, bestIndex);
                            }
                        }
                        best.CopyTo(y.Slice(outBase + ch));
                        bestIndex.CopyTo(argmax.Slice(outBase + ch));
                    }
                }
                if (Vector256.IsHardwareAccelerated)
                {
                    for (; ch <= c - Vector256<float>.Count; ch += Vector256<float>.Count)
                    {
                        var best = Vector256.Create(float.NegativeInfinity);
                        var bestIndex = Vector256<int>.Zero;
                        for (int ky = 0; ky < g.KernelHeight; ky++)
                        {
                            for (int kx = 0; kx < g.KernelWidth; kx++)
                            {
                                int index = ((oy * g.Stride - g.PadTop + ky) * g.Width + ox * g.Stride - g.PadLeft + kx) * c + ch;
                                var v = Vector256.Create(x.Slice(index, Vector256<float>.Count));
                                var better = Vector256.GreaterThan(v, best);
                                best = Vector256.ConditionalSelect(better, v, best);
                                bestIndex = Vector256.ConditionalSelect(better.AsInt32(), Vector256.Create(index) + Vector256<int>.Indices, bestIndex);
                            }
                        }
                        best.CopyTo(y.Slice(outBase + ch));
                        bestIndex.CopyTo(argmax.Slice(outBase + ch));
                    }
                }
                for (; ch < c; ch++)
                {
                    MaxOne(x, g, oy, ox, ch, out y[outBase + ch], out argmax[outBase + ch]);
                }
            }
        }
    }

    // The common 2×2 stride-2 window without padding, 16 channels at a time with the window's four
    // offsets computed once: the same comparisons in the same order as the general loop, whose
    // per-tap index arithmetic and bounds checks took most of its time.
    // x: [H, W, C] → y, argmax: [OH, OW, C]
    private static void MaxForward2x2(ReadOnlySpan<float> x, in ConvGeometry g, Span<float> y, Span<int> argmax)
    {
        int c = g.Channels, row = g.Width * c, outSize = g.OutHeight * g.OutWidth * c;
        if (x.Length < ((2 * g.OutHeight - 1) * g.Width + 2 * g.OutWidth) * c || y.Length < outSize || argmax.Length < outSize)
        {
            throw new ArgumentException($"Max pooling of {x.Length} values into {y.Length} and {argmax.Length} for {g}.");
        }
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        ref int pa = ref MemoryMarshal.GetReference(argmax);
        var lanes = Vector512<int>.Indices;
        for (int oy = 0; oy < g.OutHeight; oy++)
        {
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                int o = (oy * g.OutWidth + ox) * c;
                int window = (2 * oy * g.Width + 2 * ox) * c;
                for (int ch = 0; ch < c; ch += Vector512<float>.Count)
                {
                    int i0 = window + ch;
                    var best = Vector512.Create(float.NegativeInfinity);
                    var bestIndex = Vector512<int>.Zero;
                    Take(ref px, i0, lanes, ref best, ref bestIndex);
                    Take(ref px, i0 + c, lanes, ref best, ref bestIndex);
                    Take(ref px, i0 + row, lanes, ref best, ref bestIndex);
                    Take(ref px, i0 + row + c, lanes, ref best, ref bestIndex);
                    best.StoreUnsafe(ref py, (nuint)(o + ch));
                    bestIndex.StoreUnsafe(ref pa, (nuint)(o + ch));
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Take(ref float x, int index, Vector512<int> lanes, ref Vector512<float> best, ref Vector512<int> bestIndex)
    {
        var v = Vector512.LoadUnsafe(ref x, (nuint)index);
        var better = Vector512.GreaterThan(v, best);
        best = Vector512.ConditionalSelect(better, v, best);
        bestIndex = Vector512.ConditionalSelect(better.AsInt32(), Vector512.Create(index) + lanes, bestIndex);
    }

    /// <summary>The scalar twin of <see cref="MaxForward"/>.</summary>
    public static void MaxForwardScalar(ReadOnlySpan<float> x, in ConvGeometry g, Span<float> y, Span<int> argmax)
    {
        for (int oy = 0; oy < g.OutHeight; oy++)
        {
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                for (int ch = 0; ch < g.Channels; ch++)
                {
                    int o = (oy * g.OutWidth + ox) * g.Channels + ch;
                    MaxOne(x, g, oy, ox, ch, out y[o], out argmax[o]);
                }
            }
        }
    }

    private static void MaxOne(ReadOnlySpan<float> x, in ConvGeometry g, int oy, int ox, int ch, out float best, out int bestIndex)
    {
        best = float.NegativeInfinity;
        bestIndex = 0;
        for (int ky = 0; ky < g.KernelHeight; ky++)
        {
            for (int kx = 0; kx < g.KernelWidth; kx++)
            {
                int index = ((oy * g.Stride - g.PadTop + ky) * g.Width + ox * g.Stride - g.PadLeft + kx) * g.Channels + ch;
                if (x[index] > best)
                {
                    best = x[index];
                    bestIndex = index;
                }
            }
        }
    }

    /// <summary>
    /// Whether <see cref="MaxBackwardTiled"/> applies: non-overlapping windows (stride = window), no
    /// padding, and channels a multiple of the widest vector (16 floats with Vector512, else 8 with Vector256).
    /// </summary>
    public static bool CanTileBackward(in ConvGeometry g) =>
        g.Stride == g.KernelHeight && g.PadTop == 0 && g.PadLeft == 0
        && (Vector512.IsHardwareAccelerated ? g.Channels % Vector512<float>.Count == 0 : Vector256.IsHardwareAccelerated && g.Channels % Vector256<float>.Count == 0);

    /// <summary>
    /// Max-pool backward for non-overlapping windows (stride = window), vectorised across channels:
    /// writes every covered element of dx exactly once — dy where it won its window, else 0 — so dx
    /// needs no clearing first and is written in order. With the forward output <paramref name="y"/>
    /// given, only where y &gt; 0: the winner's input is y itself, so this is the mask of a ReLU
    /// before the pool, x &gt; 0 at the argmax, read from the small output instead of the input.
    /// Needs <see cref="CanTileBackward"/>; the twins are <see cref="MaxBackward"/> and
    /// <see cref="MaxBackwardRectified"/> on a cleared dx.
    /// </summary>
    // dy, argmax, y: [OH, OW, C] (y may be empty) → dx: [H, W, C] (overwritten where covered, rest untouched)
    public static void MaxBackwardTiled(ReadOnlySpan<float> dy, ReadOnlySpan<int> argmax, ReadOnlySpan<float> y, in ConvGeometry g, Span<float> dx)
    {
        if (!CanTileBackward(g))
        {
            throw new ArgumentException("MaxBackwardTiled needs non-overlapping windows, no padding and channels divisible by the vector width.");
        }
        int c = g.Channels;
        bool rectify = !y.IsEmpty;
        if (Vector512.IsHardwareAccelerated && g.KernelHeight == 2 && g.KernelWidth == 2)
        {
            MaxBackward2x2(dy, argmax, y, g, dx);
            return;
        }
        for (int oy = 0; oy < g.OutHeight; oy++)
        {
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                int o = (oy * g.OutWidth + ox) * c;
                int window = (oy * g.Stride * g.Width + ox * g.Stride) * c;
                if (Vector512.IsHardwareAccelerated)
                {
                    for (int ch = 0; ch < c; ch += Vector512<float>.Count)
                    {
                        var grad = Vector512.Create(dy.Slice(o + ch, Vector512<float>.Count));
                        var winner = Vector512.Create(argmax.Slice(o + ch, Vector512<int>.Count));
                        if (rectify)
                        {
                            grad &= Vector512.GreaterThan(Vector512.Create(y.Slice(o + ch, Vector512<float>.Count)), Vector512<float>.Zero);
                        }
                        for (int ky = 0; ky < g.KernelHeight; ky++)
                        {
                            for (int kx = 0; kx < g.KernelWidth; kx++)
                            {
                                int index = window + (ky * g.Width + kx) * c + ch;
                                var won = Vector512.Equals(winner, Vector512.Create(index) + Vector512<int>.Indices).AsSingle();
                                (grad & won).CopyTo(dx.Slice(index));
                            }
                        }
                    }
                    continue;
                }
                for (int ch = 0; ch < c; ch += Vector256<float>.Count)
                {
                    var grad = Vector256.Create(dy.Slice(o + ch, Vector256<float>.Count));
                    var winner = Vector256.Create(argmax.Slice(o + ch, Vector256<int>.Count));
                    if (rectify)
                    {
                        grad &= Vector256.GreaterThan(Vector256.Create(y.Slice(o + ch, Vector256<float>.Count)), Vector256<float>.Zero);
                    }
                    for (int ky = 0; ky < g.KernelHeight; ky++)
                    {
                        for (int kx = 0; kx < g.KernelWidth; kx++)
                        {
                            int index = window + (ky * g.Width + kx) * c + ch;
                            var won = Vector256.Equals(winner, Vector256.Create(index) + Vector256<int>.Indices).AsSingle();
                            (grad & won).CopyTo(dx.Slice(index));
                        }
                    }
                }
            }
        }
    }

    // MaxBackwardTiled's 2×2 windows, 16 channels at a time with the window's four offsets computed
    // once, as MaxForward2x2.
    // dy, argmax, y: [OH, OW, C] (y may be empty) → dx: [H, W, C]
    private static void MaxBackward2x2(ReadOnlySpan<float> dy, ReadOnlySpan<int> argmax, ReadOnlySpan<float> y, in ConvGeometry g, Span<float> dx)
    {
        int c = g.Channels, row = g.Width * c, outSize = g.OutHeight * g.OutWidth * c;
        bool rectify = !y.IsEmpty;
        if (dy.Length < outSize || argmax.Length < outSize || (rectify && y.Length < outSize) || dx.Length < ((2 * g.OutHeight - 1) * g.Width + 2 * g.OutWidth) * c)
        {
            throw new ArgumentException($"Max pooling gradient of {dy.Length} values into {dx.Length} for {g}.");
        }
        ref float pdy = ref MemoryMarshal.GetReference(dy);
        ref int pa = ref MemoryMarshal.GetReference(argmax);
        ref float py = ref MemoryMarshal.GetReference(y);
        ref float pdx = ref MemoryMarshal.GetReference(dx);
        var lanes = Vector512<int>.Indices;
        for (int oy = 0; oy < g.OutHeight; oy++)
        {
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                int o = (oy * g.OutWidth + ox) * c;
                int window = (2 * oy * g.Width + 2 * ox) * c;
                for (int ch = 0; ch < c; ch += Vector512<float>.Count)
                {
                    var grad = Vector512.LoadUnsafe(ref pdy, (nuint)(o + ch));
                    var winner = Vector512.LoadUnsafe(ref pa, (nuint)(o + ch)) - lanes;
                    if (rectify)
                    {
                        grad &= Vector512.GreaterThan(Vector512.LoadUnsafe(ref py, (nuint)(o + ch)), Vector512<float>.Zero);
                    }
                    int i0 = window + ch;
                    (grad & Vector512.Equals(winner, Vector512.Create(i0)).AsSingle()).StoreUnsafe(ref pdx, (nuint)i0);
                    (grad & Vector512.Equals(winner, Vector512.Create(i0 + c)).AsSingle()).StoreUnsafe(ref pdx, (nuint)(i0 + c));
                    (grad & Vector512.Equals(winner, Vector512.Create(i0 + row)).AsSingle()).StoreUnsafe(ref pdx, (nuint)(i0 + row));
                    (grad & Vector512.Equals(winner, Vector512.Create(i0 + row + c)).AsSingle()).StoreUnsafe(ref pdx, (nuint)(i0 + row + c));
                }
            }
        }
    }

    /// <summary>
    /// As <see cref="MaxBackward"/>, but only where the winning input is positive: when x is a ReLU's
    /// output this also applies that ReLU's backward, max(·, 0)' = [x &gt; 0], in the same pass.
    /// </summary>
    // dy: [OH, OW, C], argmax: [OH, OW, C], x: [H, W, C] → dx: [H, W, C] (accumulated)
    public static void MaxBackwardRectified(ReadOnlySpan<float> dy, ReadOnlySpan<int> argmax, ReadOnlySpan<float> x, Span<float> dx)
    {
        for (int i = 0; i < dy.Length; i++)
        {
            int j = argmax[i];
            // Branch-free: the sign of x is a coin toss, and a mispredicted branch costs more than the add.
            int keep = -(x[j] > 0 ? 1 : 0);
            dx[j] += BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(dy[i]) & keep);
        }
    }

    /// <summary>Routes each output gradient to the input that won the forward max.</summary>
    // dy: [OH, OW, C], argmax: [OH, OW, C] → dx: [H, W, C] (accumulated)
    public static void MaxBackward(ReadOnlySpan<float> dy, ReadOnlySpan<int> argmax, Span<float> dx)
    {
        for (int i = 0; i < dy.Length; i++)
        {
            dx[argmax[i]] += dy[i];
        }
    }

    /// <summary>Average pooling of one sample over "valid" windows (Keras's AveragePooling2D): each output is the mean of its window.</summary>
    // x: [H, W, C] → y: [OH, OW, C], y[oy, ox, c] = (1/(kh·kw))·Σ_{window} x[oy·s + i, ox·s + j, c] ("valid" windows)
    public static void AverageForward(ReadOnlySpan<float> x, in ConvGeometry g, Span<float> y)
    {
        int c = g.Channels;
        float scale = 1f / (g.KernelHeight * g.KernelWidth);
        for (int oy = 0; oy < g.OutHeight; oy++)
        {
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                var yo = y.Slice((oy * g.OutWidth + ox) * c, c);
                yo.Clear();
                for (int i = 0; i < g.KernelHeight; i++)
                {
                    for (int j = 0; j < g.KernelWidth; j++)
                    {
                        Elementwise.Map<AddOperator>(yo, x.Slice(((oy * g.Stride + i) * g.Width + ox * g.Stride + j) * c, c), yo);
                    }
                }
                Elementwise.Map<ScaleOperator>(yo, scale, yo);
            }
        }
    }

    /// <summary>The scalar twin of <see cref="AverageForward"/>: the same sums in the same order.</summary>
    public static void AverageForwardScalar(ReadOnlySpan<float> x, in ConvGeometry g, Span<float> y)
    {
        int c = g.Channels;
        float scale = 1f / (g.KernelHeight * g.KernelWidth);
        for (int oy = 0; oy < g.OutHeight; oy++)
        {
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    float sum = 0;
                    for (int i = 0; i < g.KernelHeight; i++)
                    {
                        for (int j = 0; j < g.KernelWidth; j++)
                        {
                            sum += x[((oy * g.Stride + i) * g.Width + ox * g.Stride + j) * c + ch];
                        }
                    }
                    y[(oy * g.OutWidth + ox) * c + ch] = sum * scale;
                }
            }
        }
    }

    /// <summary>The gradient of <see cref="AverageForward"/> for one sample; overwrites <paramref name="dx"/> (it does not accumulate).</summary>
    // dy: [OH, OW, C] → dx: [H, W, C], every input of a window receives dy/(kh·kw) (summed over overlapping windows in window order)
    public static void AverageBackward(ReadOnlySpan<float> dy, in ConvGeometry g, Span<float> dx)
    {
        int c = g.Channels;
        float scale = 1f / (g.KernelHeight * g.KernelWidth);
        dx.Clear();
        for (int oy = 0; oy < g.OutHeight; oy++)
        {
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                var gradient = dy.Slice((oy * g.OutWidth + ox) * c, c);
                for (int i = 0; i < g.KernelHeight; i++)
                {
                    for (int j = 0; j < g.KernelWidth; j++)
                    {
                        var dxi = dx.Slice(((oy * g.Stride + i) * g.Width + ox * g.Stride + j) * c, c);
                        Elementwise.Map<AddScaledOperator>(dxi, gradient, scale, dxi);
                    }
                }
            }
        }
    }

    /// <summary>The scalar twin of <see cref="AverageBackward"/>.</summary>
    public static void AverageBackwardScalar(ReadOnlySpan<float> dy, in ConvGeometry g, Span<float> dx)
    {
        int c = g.Channels;
        float scale = 1f / (g.KernelHeight * g.KernelWidth);
        dx.Clear();
        for (int oy = 0; oy < g.OutHeight; oy++)
        {
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                for (int i = 0; i < g.KernelHeight; i++)
                {
                    for (int j = 0; j < g.KernelWidth; j++)
                    {
                        for (int ch = 0; ch < c; ch++)
                        {
                            dx[((oy * g.Stride + i) * g.Width + ox * g.Stride + j) * c + ch] += dy[(oy * g.OutWidth + ox) * c + ch] * scale;
                        }
                    }
                }
            }
        }
    }
}
