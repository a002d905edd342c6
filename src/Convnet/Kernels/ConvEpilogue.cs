using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Convnet.Kernels;

/// <summary>
/// What an inference convolution applies to each output after its sum, in this order: + bias, ReLU
/// (when <see cref="Relu"/>), the per-channel affine v·scale + shift (a BatchNormalization in
/// inference form, when <see cref="Scale"/> is given), and with <see cref="Pool2"/> the max of each
/// 2×2 block (a following MaxPooling2D(2)).
/// </summary>
public readonly ref struct ConvEpilogue(ReadOnlySpan<float> bias, bool relu, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, bool pool2)
{
    /// <summary>[F].</summary>
    public ReadOnlySpan<float> Bias { get; } = bias;
    /// <summary>Rectify after the bias.</summary>
    public bool Relu { get; } = relu;
    /// <summary>[F], or empty for no affine.</summary>
    public ReadOnlySpan<float> Scale { get; } = scale;
    /// <summary>[F], with <see cref="Scale"/>.</summary>
    public ReadOnlySpan<float> Shift { get; } = shift;
    /// <summary>Max over each 2×2 block of outputs, stride 2.</summary>
    public bool Pool2 { get; } = pool2;

    /// <summary>ReLU and affine of one biased value of channel <paramref name="f"/> (the scalar definition).</summary>
    public float Apply(float v, int f)
    {
        if (Relu)
        {
            v = v > 0 ? v : 0;
        }
        return Scale.IsEmpty ? v : v * Scale[f] + Shift[f];
    }

    /// <summary>Throws when the spans do not hold <paramref name="filters"/> values.</summary>
    public void Check(int filters)
    {
        if (Bias.Length != filters || (!Scale.IsEmpty && (Scale.Length != filters || Shift.Length != filters)))
        {
            throw new ArgumentException($"Epilogue of bias {Bias.Length}, scale {Scale.Length}, shift {Shift.Length} values for {filters} filters.");
        }
    }
}

/// <summary>The inference passes that follow a GEMM convolution's epilogue (bias and ReLU are in the GEMM): the affine and max pooling without argmax.</summary>
public static class InferencePasses
{
    /// <summary>v = v·scale + shift per channel, in place.</summary>
    // x: [rows, C]; scale, shift: [C]
    public static void Affine(Span<float> x, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, int channels)
    {
        if (scale.Length != channels || shift.Length != channels || x.Length % channels != 0)
        {
            throw new ArgumentException($"Affine of {x.Length} values with {scale.Length} scales and {shift.Length} shifts for {channels} channels.");
        }
        int vectorEnd = Vector256.IsHardwareAccelerated ? channels & ~7 : 0;
        ref float ps = ref MemoryMarshal.GetReference(scale);
        ref float pt = ref MemoryMarshal.GetReference(shift);
        for (int r = 0; r < x.Length; r += channels)
        {
            ref float px = ref MemoryMarshal.GetReference(x.Slice(r, channels));
            int c = 0;
            for (; c < vectorEnd; c += 8)
            {
                (Vector256.LoadUnsafe(ref px, (nuint)c) * Vector256.LoadUnsafe(ref ps, (nuint)c) + Vector256.LoadUnsafe(ref pt, (nuint)c)).StoreUnsafe(ref px, (nuint)c);
            }
            for (; c < channels; c++)
            {
                x[r + c] = x[r + c] * scale[c] + shift[c];
            }
        }
    }

    /// <summary>The scalar twin of <see cref="Affine"/>.</summary>
    public static void AffineScalar(Span<float> x, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, int channels)
    {
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = x[i] * scale[i % channels] + shift[i % channels];
        }
    }

    /// <summary>Max pooling of one channels-last image over "valid" windows, without the argmax training keeps; vectorised across channels.</summary>
    // x: [H, W, C] → y: [OH, OW, C]
    public static void MaxPool(ReadOnlySpan<float> x, in ConvGeometry g, Span<float> y)
    {
        CheckPool(x, g, y);
        int c = g.Channels;
        int vectorEnd = Vector256.IsHardwareAccelerated ? c & ~7 : 0;
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        for (int oy = 0; oy < g.OutHeight; oy++)
        {
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                int outBase = (oy * g.OutWidth + ox) * c;
                int inBase = (oy * g.Stride * g.Width + ox * g.Stride) * c;
                int ch = 0;
                for (; ch < vectorEnd; ch += 8)
                {
                    var best = Vector256.LoadUnsafe(ref px, (nuint)(inBase + ch));
                    for (int ky = 0; ky < g.KernelHeight; ky++)
                    {
                        for (int kx = ky == 0 ? 1 : 0; kx < g.KernelWidth; kx++)
                        {
                            best = Vector256.Max(best, Vector256.LoadUnsafe(ref px, (nuint)(inBase + (ky * g.Width + kx) * c + ch)));
                        }
                    }
                    best.StoreUnsafe(ref py, (nuint)(outBase + ch));
                }
                for (; ch < c; ch++)
                {
                    y[outBase + ch] = MaxOne(x, g, inBase + ch);
                }
            }
        }
    }

    /// <summary>The scalar twin of <see cref="MaxPool"/>.</summary>
    public static void MaxPoolScalar(ReadOnlySpan<float> x, in ConvGeometry g, Span<float> y)
    {
        CheckPool(x, g, y);
        for (int oy = 0; oy < g.OutHeight; oy++)
        {
            for (int ox = 0; ox < g.OutWidth; ox++)
            {
                int inBase = (oy * g.Stride * g.Width + ox * g.Stride) * g.Channels;
                for (int ch = 0; ch < g.Channels; ch++)
                {
                    y[(oy * g.OutWidth + ox) * g.Channels + ch] = MaxOne(x, g, inBase + ch);
                }
            }
        }
    }

    private static float MaxOne(ReadOnlySpan<float> x, in ConvGeometry g, int at)
    {
        float best = x[at];
        for (int ky = 0; ky < g.KernelHeight; ky++)
        {
            for (int kx = ky == 0 ? 1 : 0; kx < g.KernelWidth; kx++)
            {
                best = MathF.Max(best, x[at + (ky * g.Width + kx) * g.Channels]);
            }
        }
        return best;
    }

    private static void CheckPool(ReadOnlySpan<float> x, in ConvGeometry g, Span<float> y)
    {
        if (g.PadTop != 0 || g.PadLeft != 0 || x.Length < g.Height * g.Width * g.Channels || y.Length < g.OutPixels * g.Channels)
        {
            throw new ArgumentException($"Max pooling of {x.Length} values into {y.Length} for {g}.");
        }
    }
}
