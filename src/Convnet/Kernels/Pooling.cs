using System.Runtime.Intrinsics;

namespace Convnet.Kernels;

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
                for (; ch < c; ch++)
                {
                    MaxOne(x, g, oy, ox, ch, out y[outBase + ch], out argmax[outBase + ch]);
                }
            }
        }
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

    /// <summary>Routes each output gradient to the input that won the forward max.</summary>
    // dy: [OH, OW, C], argmax: [OH, OW, C] → dx: [H, W, C] (accumulated)
    public static void MaxBackward(ReadOnlySpan<float> dy, ReadOnlySpan<int> argmax, Span<float> dx)
    {
        for (int i = 0; i < dy.Length; i++)
        {
            dx[argmax[i]] += dy[i];
        }
    }
}
