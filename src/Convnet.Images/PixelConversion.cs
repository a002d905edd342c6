namespace Convnet.Images;

/// <summary>
/// The byte-level steps between Skia's decoded pixels and a sample: alpha over white, RGB to
/// gray, gray to RGB, and a bilinear resize. Integer arithmetic where it can be, so that gray
/// pixels stay exactly what they were.
/// </summary>
internal static class PixelConversion
{
    /// <summary>Unpremultiplied <paramref name="value"/> with alpha <paramref name="alpha"/> over white, rounded.</summary>
    private static int OverWhite(int value, int alpha) => (value * alpha + 255 * (255 - alpha) + 127) / 255;

    /// <summary>round(0.299R + 0.587G + 0.114B) in integers: exactly v for R = G = B = v.</summary>
    private static byte Luma(int r, int g, int b) => (byte)((299 * r + 587 * g + 114 * b + 500) / 1000);

    // rgba: [pixels, 4] unpremultiplied → gray: [pixels]
    public static void RgbaToGray(ReadOnlySpan<byte> rgba, Span<byte> gray)
    {
        for (int i = 0, j = 0; i < gray.Length; i++, j += 4)
        {
            int a = rgba[j + 3];
            gray[i] = a == 255
                ? Luma(rgba[j], rgba[j + 1], rgba[j + 2])
                : Luma(OverWhite(rgba[j], a), OverWhite(rgba[j + 1], a), OverWhite(rgba[j + 2], a));
        }
    }

    // rgba: [pixels, 4] unpremultiplied → rgb: [pixels, 3]
    public static void RgbaToRgb(ReadOnlySpan<byte> rgba, Span<byte> rgb)
    {
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            int a = rgba[j + 3];
            if (a == 255)
            {
                rgb[i] = rgba[j];
                rgb[i + 1] = rgba[j + 1];
                rgb[i + 2] = rgba[j + 2];
            }
            else
            {
                rgb[i] = (byte)OverWhite(rgba[j], a);
                rgb[i + 1] = (byte)OverWhite(rgba[j + 1], a);
                rgb[i + 2] = (byte)OverWhite(rgba[j + 2], a);
            }
        }
    }

    // gray: [pixels] → rgb: [pixels, 3]
    public static void GrayToRgb(ReadOnlySpan<byte> gray, Span<byte> rgb)
    {
        for (int i = 0, j = 0; j < rgb.Length; i++, j += 3)
        {
            rgb[j] = rgb[j + 1] = rgb[j + 2] = gray[i];
        }
    }

    // rgb: [pixels, 3] with R = G = B → gray: [pixels] (the red channel)
    public static void GrayRgbToGray(ReadOnlySpan<byte> rgb, Span<byte> gray)
    {
        for (int i = 0, j = 0; i < gray.Length; i++, j += 3)
        {
            gray[i] = rgb[j];
        }
    }

    /// <summary>
    /// Bilinear resampling with half-pixel centres and edge clamping, no antialiasing (TensorFlow's
    /// tf.image.resize(method="bilinear"), Keras's default for image folders), rounded to bytes.
    /// </summary>
    // source: [inHeight, inWidth, channels] → destination: [outHeight, outWidth, channels]
    public static void ResizeBilinear(ReadOnlySpan<byte> source, int inHeight, int inWidth, int channels, int outHeight, int outWidth, Span<byte> destination)
    {
        var (x0, x1, fx) = Taps(inWidth, outWidth);
        var (y0, y1, fy) = Taps(inHeight, outHeight);
        int rowBytes = inWidth * channels;
        for (int y = 0; y < outHeight; y++)
        {
            var top = source.Slice(y0[y] * rowBytes, rowBytes);
            var bottom = source.Slice(y1[y] * rowBytes, rowBytes);
            float wy = fy[y];
            var row = destination.Slice(y * outWidth * channels, outWidth * channels);
            for (int x = 0; x < outWidth; x++)
            {
                int left = x0[x] * channels, right = x1[x] * channels;
                float wx = fx[x];
                for (int c = 0; c < channels; c++)
                {
                    float t = top[left + c] + (top[right + c] - top[left + c]) * wx;
                    float b = bottom[left + c] + (bottom[right + c] - bottom[left + c]) * wx;
                    row[x * channels + c] = (byte)(t + (b - t) * wy + 0.5f);
                }
            }
        }
    }

    /// <summary>For each output index, the two input indices it reads and the weight of the second.</summary>
    private static (int[] Low, int[] High, float[] Weight) Taps(int inSize, int outSize)
    {
        var low = new int[outSize];
        var high = new int[outSize];
        var weight = new float[outSize];
        double scale = (double)inSize / outSize;
        for (int i = 0; i < outSize; i++)
        {
            double at = Math.Max((i + 0.5) * scale - 0.5, 0);
            int l = Math.Min((int)at, inSize - 1);
            low[i] = l;
            high[i] = Math.Min(l + 1, inSize - 1);
            weight[i] = (float)(at - l);
        }
        return (low, high, weight);
    }
}
