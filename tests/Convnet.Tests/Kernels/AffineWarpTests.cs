using Convnet.Data;
using Convnet.Kernels;
using Convnet.Runtime;
using Xunit;

namespace Convnet.Tests.Kernels;

/// <summary>The bilinear affine warp against transforms whose result is known by hand.</summary>
public class AffineWarpTests
{
    private static float[] RandomImage(int height, int width, int channels, ulong seed)
    {
        var rng = new Rng(seed);
        var image = new float[height * width * channels];
        for (int i = 0; i < image.Length; i++)
        {
            image[i] = rng.NextFloat();
        }
        return image;
    }

    private static float[] Warp(float[] x, AffineMap map, int height, int width, int channels)
    {
        var y = new float[x.Length];
        y.AsSpan().Fill(float.NaN);
        AffineWarp.Bilinear(x, map, height, width, channels, y);
        return y;
    }

    private static void AssertBits(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]), $"at {i}: expected {expected[i]}, got {actual[i]}");
        }
    }

    [Theory]
    [InlineData(28, 28, 1)]
    [InlineData(5, 7, 3)]
    [InlineData(1, 1, 1)]
    public void The_identity_map_copies_every_value_bit_for_bit(int height, int width, int channels)
    {
        var x = RandomImage(height, width, channels, 1);
        AssertBits(x, Warp(x, AffineMap.Identity, height, width, channels));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(2, 0)]
    [InlineData(0, -3)]
    [InlineData(-1, 2)]
    [InlineData(9, 0)]
    public void A_whole_pixel_shift_equals_the_shifted_image_with_zeros_moved_in(int dx, int dy)
    {
        const int H = 6, W = 8, C = 2;
        var x = RandomImage(H, W, C, 2);
        var expected = new float[x.Length];
        for (int row = 0; row < H; row++)
        {
            for (int col = 0; col < W; col++)
            {
                int sr = row - dy, sc = col - dx;
                for (int c = 0; c < C; c++)
                {
                    expected[(row * W + col) * C + c] = sr is >= 0 and < H && sc is >= 0 and < W ? x[(sr * W + sc) * C + c] : 0;
                }
            }
        }
        AssertBits(expected, Warp(x, AffineMap.Shift(dx, dy), H, W, C));
    }

    [Fact]
    public void A_drawn_shift_of_a_whole_number_of_pixels_moves_the_image_exactly()
    {
        // Shift fractions of 0.25 of 8 columns and −0.5 of 4 rows: 2 pixels right, 2 up.
        const int H = 4, W = 8;
        var x = RandomImage(H, W, 1, 3);
        var map = new AugmentationSample(0, 1, 0.25, -0.5, 0).ToMap(H, W);
        AssertBits(Warp(x, AffineMap.Shift(2, -2), H, W, 1), Warp(x, map, H, W, 1));
    }

    [Fact]
    public void Rotation_0_with_zoom_1_is_the_identity()
    {
        var map = new AugmentationSample(0, 1, 0, 0, 0).ToMap(28, 28);
        Assert.Equal(AffineMap.Identity, map);
        var x = RandomImage(28, 28, 1, 4);
        AssertBits(x, Warp(x, map, 28, 28, 1));
    }

    [Fact]
    public void A_90_degree_rotation_turns_an_asymmetric_image_anticlockwise()
    {
        const int N = 5;
        var x = new float[N * N];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (i * 7 % 25 + 1) / 25f; // every value distinct: no symmetry can hide a wrong turn
        }
        // Anticlockwise as displayed: the top-right corner goes to the top left; out[r, c] = in[c, N − 1 − r].
        var expected = new float[N * N];
        for (int r = 0; r < N; r++)
        {
            for (int c = 0; c < N; c++)
            {
                expected[r * N + c] = x[c * N + (N - 1 - r)];
            }
        }
        var actual = Warp(x, new AugmentationSample(90, 1, 0, 0, 0).ToMap(N, N), N, N, 1);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-5f, $"at {i}: expected {expected[i]}, got {actual[i]}");
        }
    }

    [Fact]
    public void A_half_pixel_shift_averages_neighbours_and_fades_at_the_edge()
    {
        var x = new float[] { 1, 2, 3, 4 };
        var y = Warp(x, AffineMap.Shift(0.5f, 0), 1, 4, 1);
        Assert.Equal(new[] { 0.5f, 1.5f, 2.5f, 3.5f }, y);
    }

    [Fact]
    public void Points_far_outside_and_nan_coordinates_read_zero()
    {
        var x = RandomImage(3, 3, 1, 5);
        Assert.All(Warp(x, AffineMap.Shift(100, -50), 3, 3, 1), v => Assert.Equal(0f, v));
        Assert.All(Warp(x, new AffineMap(float.NaN, 0, 0, 0, 1, 0), 3, 3, 1), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Zoom_magnifies_about_the_centre()
    {
        // Scale 2 about the centre of a 1×5 row: output column c samples input 2 + (c − 2)/2.
        var x = new float[] { 0, 1, 2, 3, 4 };
        var map = new AugmentationSample(0, 2, 0, 0, 0).ToMap(1, 5);
        var y = Warp(x, map, 1, 5, 1);
        Assert.Equal(new[] { 1f, 1.5f, 2f, 2.5f, 3f }, y);
    }

    [Fact]
    public void Zoom_scales_each_axis_by_its_own_factor()
    {
        // 5×5, horizontal scale 2 and vertical scale 1: rows are magnified along x only.
        var x = new float[25];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = i % 5 + 10 * (i / 5);
        }
        var map = new AugmentationSample(0, 2, 0, 0, 0) { ScaleY = 1 }.ToMap(5, 5);
        var y = Warp(x, map, 5, 5, 1);
        for (int r = 0; r < 5; r++)
        {
            Assert.Equal(new[] { 1f, 1.5f, 2f, 2.5f, 3f }.Select(v => v + 10 * r), y.Skip(r * 5).Take(5));
        }
    }

    [Fact]
    public void Sizes_that_do_not_match_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => AffineWarp.Bilinear(new float[4], AffineMap.Identity, 2, 2, 1, new float[5]));
        var buffer = new float[4];
        Assert.Throws<ArgumentException>(() => AffineWarp.Bilinear(buffer, AffineMap.Identity, 2, 2, 1, buffer));
    }
}
