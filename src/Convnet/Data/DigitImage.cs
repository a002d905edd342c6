namespace Convnet.Data;

/// <summary>
/// Turns an arbitrary grayscale picture of one digit into an MNIST-style 28×28 image: light
/// backgrounds are inverted (MNIST digits are white on black), the digit's bounding box is scaled
/// by area averaging to fit 20×20 keeping its aspect ratio, and the result is placed so that its
/// centre of mass is at the centre of the 28×28 field (LeCun et al.'s MNIST procedure).
/// </summary>
public static class DigitImage
{
    /// <summary>The side of the output image in pixels (28, as in MNIST).</summary>
    public const int Side = 28;
    private const int Box = 20;
    private const float Ink = 0.15f;

    /// <summary>
    /// The largest picture taken, in pixels (a 50-megapixel photo): decoding one takes about
    /// 12 bytes a pixel here (RGBA, gray, its working copy), so 600 MB at the limit. Loaders refuse
    /// larger ones from their header, before decoding.
    /// </summary>
    public const long MaxPixels = 50_000_000;

    /// <summary>gray: [height, width] in [0, 1] (1 = white) → [28, 28] in [0, 1], digit white on black.</summary>
    public static float[] Preprocess(ReadOnlySpan<float> gray, int width, int height)
    {
        if (width < 1 || height < 1 || gray.Length != (long)width * height)
        {
            throw new ArgumentException($"Expected {width}×{height} pixels, got {gray.Length}.");
        }
        if (gray.Length > MaxPixels)
        {
            throw new ArgumentException($"The picture has {gray.Length} pixels, more than the {MaxPixels} accepted.");
        }
        var image = gray.ToArray();
        if (BorderMean(image, width, height) > 0.5f)
        {
            for (int i = 0; i < image.Length; i++)
            {
                image[i] = 1 - image[i];
            }
        }
        int x0 = width, y0 = height, x1 = -1, y1 = -1;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                if (image[y * width + x] > Ink)
                {
                    x0 = Math.Min(x0, x);
                    x1 = Math.Max(x1, x);
                    y0 = Math.Min(y0, y);
                    y1 = Math.Max(y1, y);
                }
            }
        }
        if (x1 < 0)
        {
            throw new ArgumentException("The image is blank: no digit found.");
        }
        int cropW = x1 - x0 + 1, cropH = y1 - y0 + 1;
        double scale = (double)Box / Math.Max(cropW, cropH);
        int outW = Math.Max(1, (int)Math.Round(cropW * scale)), outH = Math.Max(1, (int)Math.Round(cropH * scale));
        var small = ResizeArea(image, width, x0, y0, cropW, cropH, outW, outH);

        double mass = 0, cx = 0, cy = 0;
        for (int y = 0; y < outH; y++)
        {
            for (int x = 0; x < outW; x++)
            {
                double v = small[y * outW + x];
                mass += v;
                cx += v * (x + 0.5);
                cy += v * (y + 0.5);
            }
        }
        int left = Math.Clamp((int)Math.Round(Side / 2.0 - cx / mass), 0, Side - outW);
        int top = Math.Clamp((int)Math.Round(Side / 2.0 - cy / mass), 0, Side - outH);
        var result = new float[Side * Side];
        for (int y = 0; y < outH; y++)
        {
            for (int x = 0; x < outW; x++)
            {
                result[(top + y) * Side + left + x] = Math.Clamp(small[y * outW + x], 0, 1);
            }
        }
        return result;
    }

    private static float BorderMean(float[] image, int width, int height)
    {
        double sum = 0;
        int count = 0;
        for (int x = 0; x < width; x++)
        {
            sum += image[x] + image[(height - 1) * width + x];
            count += 2;
        }
        for (int y = 0; y < height; y++)
        {
            sum += image[y * width] + image[y * width + width - 1];
            count += 2;
        }
        return (float)(sum / count);
    }

    // Box-filter resampling: each output pixel is the mean of the source area it covers,
    // with fractional weights at the edges.
    private static float[] ResizeArea(float[] src, int srcWidth, int x0, int y0, int w, int h, int outW, int outH)
    {
        var result = new float[outW * outH];
        double sx = (double)w / outW, sy = (double)h / outH;
        for (int oy = 0; oy < outH; oy++)
        {
            double top = oy * sy, bottom = top + sy;
            for (int ox = 0; ox < outW; ox++)
            {
                double left = ox * sx, right = left + sx;
                double sum = 0, area = 0;
                for (int y = (int)top; y < Math.Min(h, (int)Math.Ceiling(bottom)); y++)
                {
                    double wy = Math.Min(bottom, y + 1) - Math.Max(top, y);
                    for (int x = (int)left; x < Math.Min(w, (int)Math.Ceiling(right)); x++)
                    {
                        double wx = Math.Min(right, x + 1) - Math.Max(left, x);
                        sum += wx * wy * src[(y0 + y) * srcWidth + x0 + x];
                        area += wx * wy;
                    }
                }
                result[oy * outW + ox] = area > 0 ? (float)(sum / area) : 0;
            }
        }
        return result;
    }
}
