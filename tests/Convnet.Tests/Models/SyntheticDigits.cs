using Convnet.Data;
using Convnet.Runtime;
using Convnet.Tensors;

namespace Convnet.Tests.Models;

/// <summary>Ten distinct 28×28 patterns (bars, boxes, diagonals) with per-image jitter and noise.</summary>
internal static class SyntheticDigits
{
    public static Dataset Create(int count, ulong seed)
    {
        var rng = new Rng(seed);
        var pixels = new byte[count * 784];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            int label = i % 10;
            labels[i] = (byte)label;
            int dx = rng.NextInt(5) - 2, dy = rng.NextInt(5) - 2;
            var image = pixels.AsSpan(i * 784, 784);
            for (int y = 0; y < 28; y++)
            {
                for (int x = 0; x < 28; x++)
                {
                    int u = x - dx, v = y - dy;
                    bool on = label switch
                    {
                        0 => u is >= 6 and <= 21 && (v == 6 || v == 21) || v is >= 6 and <= 21 && (u == 6 || u == 21),
                        1 => u is 13 or 14 && v is >= 4 and <= 23,
                        2 => v is 13 or 14 && u is >= 4 and <= 23,
                        3 => Math.Abs(u - v) <= 1 && u is >= 4 and <= 23,
                        4 => Math.Abs(u + v - 27) <= 1 && u is >= 4 and <= 23,
                        5 => (u is 13 or 14 && v is >= 4 and <= 23) || (v is 13 or 14 && u is >= 4 and <= 23),
                        6 => (u - 14) * (u - 14) + (v - 14) * (v - 14) is >= 36 and <= 64,
                        7 => u is >= 10 and <= 17 && v is >= 10 and <= 17,
                        8 => v is 6 or 7 or 20 or 21 && u is >= 4 and <= 23,
                        _ => u is 6 or 7 or 20 or 21 && v is >= 4 and <= 23,
                    };
                    int value = (on ? 220 : 0) + rng.NextInt(30);
                    image[y * 28 + x] = (byte)Math.Min(255, value);
                }
            }
        }
        return new Dataset(pixels, labels, Shape.Image(28, 28, 1));
    }
}
