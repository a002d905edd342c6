using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Convnet.Kernels;

/// <summary>
/// An affine map from an output pixel (x = column, y = row, pixel centres at integers) to the
/// input coordinate it samples: u = A00·x + A01·y + Bx, v = A10·x + A11·y + By.
/// </summary>
public readonly record struct AffineMap(float A00, float A01, float Bx, float A10, float A11, float By)
{
    /// <summary>The map that leaves every pixel where it is.</summary>
    public static AffineMap Identity { get; } = new(1, 0, 0, 0, 1, 0);

    /// <summary>A pure translation: output (x, y) shows input (x − dx, y − dy).</summary>
    public static AffineMap Shift(float dx, float dy) => new(1, 0, -dx, 0, 1, -dy);
}

/// <summary>
/// Warps one channels-last image by an inverse affine map with bilinear sampling. Points outside
/// the image read 0 (each of the four bilinear taps that falls outside contributes 0, so edges fade
/// over one pixel): Keras's ImageDataGenerator fills with 'nearest' by default, but MNIST-like
/// digits lie on a zero background, where smearing the border rows inwards would draw streaks, so
/// this is fill_mode='constant', cval=0. A scalar kernel: at 28×28 it costs well under a
/// microsecond per row, small beside a training step.
/// </summary>
public static class AffineWarp
{
    // x: [height, width, channels], map: output → input coordinate → y: [height, width, channels]
    /// <summary>y[oy, ox, c] = bilinear sample of x at map(ox, oy), 0 outside. x and y must not overlap.</summary>
    public static void Bilinear(ReadOnlySpan<float> x, AffineMap map, int height, int width, int channels, Span<float> y)
    {
        if (height < 1 || width < 1 || channels < 1)
        {
            throw new ArgumentException($"Image size {height}×{width}×{channels} must be positive.");
        }
        int size = height * width * channels;
        if (x.Length != size || y.Length != size)
        {
            throw new ArgumentException($"Expected {size} values in and out, got {x.Length} and {y.Length}.");
        }
        if (x.Overlaps(y))
        {
            throw new ArgumentException("The input and output of a warp must not overlap.");
        }
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        int rowStride = width * channels;
        float lastX = width - 1, lastY = height - 1;
        int o = 0;
        for (int row = 0; row < height; row++)
        {
            for (int col = 0; col < width; col++, o += channels)
            {
                // Computed afresh per pixel (no running sums): a pixel's value depends on its coordinates only.
                float u = map.A00 * col + map.A01 * row + map.Bx;
                float v = map.A10 * col + map.A11 * row + map.By;
                if (u >= 0 && u < lastX && v >= 0 && v < lastY)
                {
                    // All four taps inside.
                    int x0 = (int)u, y0 = (int)v;
                    float fx = u - x0, fy = v - y0;
                    ref float p = ref Unsafe.Add(ref xs, y0 * rowStride + x0 * channels);
                    for (int c = 0; c < channels; c++)
                    {
                        float top = Lerp(Unsafe.Add(ref p, c), Unsafe.Add(ref p, channels + c), fx);
                        float bottom = Lerp(Unsafe.Add(ref p, rowStride + c), Unsafe.Add(ref p, rowStride + channels + c), fx);
                        Unsafe.Add(ref ys, o + c) = Lerp(top, bottom, fy);
                    }
                }
                else if (u > -1 && u < width && v > -1 && v < height)
                {
                    // On the border: taps outside read 0. (NaN coordinates fail both tests and give 0.)
                    int x0 = (int)MathF.Floor(u), y0 = (int)MathF.Floor(v);
                    float fx = u - x0, fy = v - y0;
                    for (int c = 0; c < channels; c++)
                    {
                        float top = Lerp(Tap(x, x0, y0, c, width, height, channels), Tap(x, x0 + 1, y0, c, width, height, channels), fx);
                        float bottom = Lerp(Tap(x, x0, y0 + 1, c, width, height, channels), Tap(x, x0 + 1, y0 + 1, c, width, height, channels), fx);
                        Unsafe.Add(ref ys, o + c) = Lerp(top, bottom, fy);
                    }
                }
                else
                {
                    for (int c = 0; c < channels; c++)
                    {
                        Unsafe.Add(ref ys, o + c) = 0;
                    }
                }
            }
        }
    }

    /// <summary>a + t·(b − a): exactly a when t is 0, so whole-pixel maps copy values bit for bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Lerp(float a, float b, float t) => a + t * (b - a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tap(ReadOnlySpan<float> x, int col, int row, int c, int width, int height, int channels) =>
        (uint)col < (uint)width && (uint)row < (uint)height ? x[(row * width + col) * channels + c] : 0;
}
