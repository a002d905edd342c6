using Convnet.Data;
using Convnet.Runtime;
using Convnet.Tensors;
using Xunit;

namespace Convnet.Tests.Data;

/// <summary><see cref="Augmentation.HorizontalFlip"/>: Keras's RandomFlip("horizontal"), drawn only when asked for.</summary>
public class AugmentationFlipTests
{
    [Fact]
    public void Flip_parses_prints_and_round_trips()
    {
        var flip = Augmentation.Parse("flip");
        Assert.True(flip.HorizontalFlip);
        Assert.False(flip.IsIdentity);
        Assert.Equal("flip", flip.ToString());
        Assert.Equal(new Augmentation(horizontalFlip: true), flip);

        var both = Augmentation.Parse("rotation=10, flip");
        Assert.Equal(new Augmentation(rotationDegrees: 10, horizontalFlip: true), both);
        Assert.Equal("rotation=10,zoom=0,shift=0,shear=0,flip", both.ToString());
        Assert.Equal(both, Augmentation.Parse(both.ToString()));

        // Without flip the compact form is what it always was (it is in every model file's metadata).
        Assert.Equal("rotation=10,zoom=0.1,shift=0.1,shear=0", Augmentation.Parse("rotation=10,zoom=0.1,shift=0.1").ToString());
        Assert.NotEqual(Augmentation.Parse("rotation=10"), both);
    }

    [Theory]
    [InlineData("flip,flip", "flip is given twice")]
    [InlineData("flip=1", "flip takes no value")]
    [InlineData("flop", "not key=value (keys: rotation, zoom, shift, shear) or flip")]
    public void Bad_flip_tokens_are_named(string text, string message)
    {
        var e = Assert.Throws<FormatException>(() => Augmentation.Parse(text));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Without_flip_a_seed_draws_the_transforms_it_always_drew_and_flip_only_adds_a_draw()
    {
        var warp = new Augmentation(rotationDegrees: 10, zoom: 0.1, shiftFraction: 0.1, shear: 5);
        var withFlip = new Augmentation(10, 0.1, 0.1, 5, horizontalFlip: true);
        for (int i = 0; i < 200; i++)
        {
            var a = Augmentation.Stream(3, 1, i);
            var b = Augmentation.Stream(3, 1, i);
            var plain = warp.Draw(ref a);
            var mirrored = withFlip.Draw(ref b);
            Assert.False(plain.Flip);
            Assert.Equal(plain, mirrored with { Flip = false });
        }
    }

    [Fact]
    public void Flip_alone_mirrors_about_half_a_batch_exactly_and_leaves_the_rest_untouched()
    {
        const int count = 400;
        var data = Models.SyntheticDigits.Create(count, seed: 5);
        int[] indices = Enumerable.Range(0, count).ToArray();
        var options = new Augmentation(horizontalFlip: true);
        using var pool = new WorkerPool(2);
        var original = Batch(data, indices);
        var batch = Batch(data, indices);
        new BatchAugmenter().Apply(pool, options, batch, indices, seed: 11, epoch: 2);

        var shape = data.SampleShape;
        int mirroredCount = 0;
        for (int i = 0; i < count; i++)
        {
            float[] before = original.Sample(i).ToArray(), after = batch.Sample(i).ToArray();
            float[] mirror = Mirror(before, shape.Height, shape.Width);
            var rng = Augmentation.Stream(11, 2, i);
            bool drawn = options.Draw(ref rng).Flip;
            Assert.Equal(drawn ? mirror : before, after);
            Assert.NotEqual(before, mirror); // the digits are not symmetric, so the check above can fail
            mirroredCount += drawn ? 1 : 0;
        }
        // Binomial(400, 1/2): mean 200, standard deviation 10.
        Assert.InRange(mirroredCount, 160, 240);
    }

    [Fact]
    public void Flip_with_a_warp_is_deterministic_per_seed_and_independent_of_the_thread_count_and_batch_order()
    {
        var data = Models.SyntheticDigits.Create(40, seed: 2);
        var options = new Augmentation(rotationDegrees: 20, zoom: 0.1, shiftFraction: 0.1, horizontalFlip: true);
        int[] forward = Enumerable.Range(0, 40).ToArray();
        int[] backward = [.. forward.Reverse()];
        using var one = new WorkerPool(1);
        using var two = new WorkerPool(2);
        var a = Batch(data, forward);
        var b = Batch(data, backward);
        var again = Batch(data, forward);
        var otherSeed = Batch(data, forward);
        new BatchAugmenter().Apply(one, options, a, forward, seed: 7, epoch: 3);
        new BatchAugmenter().Apply(two, options, b, backward, seed: 7, epoch: 3);
        new BatchAugmenter().Apply(two, options, again, forward, seed: 7, epoch: 3);
        new BatchAugmenter().Apply(two, options, otherSeed, forward, seed: 8, epoch: 3);
        for (int i = 0; i < 40; i++)
        {
            Assert.Equal(a.Sample(i).ToArray(), b.Sample(39 - i).ToArray());
        }
        Assert.Equal(a.Span.ToArray(), again.Span.ToArray());
        Assert.NotEqual(a.Span.ToArray(), otherSeed.Span.ToArray());
    }

    [Fact]
    public void A_drawn_mirror_maps_column_x_to_exactly_width_minus_1_minus_x()
    {
        var map = new AugmentationSample(0, 1, 0, 0, 0) { Flip = true }.ToMap(16, 20);
        for (int x = 0; x < 20; x++)
        {
            Assert.Equal(19 - x, map.A00 * x + map.A01 * 7 + map.Bx);
            Assert.Equal(7, map.A10 * x + map.A11 * 7 + map.By);
        }
    }

    private static float[] Mirror(float[] image, int height, int width)
    {
        var mirror = new float[image.Length];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                mirror[y * width + x] = image[y * width + (width - 1 - x)];
            }
        }
        return mirror;
    }

    private static Tensor Batch(Dataset data, int[] indices)
    {
        var t = new Tensor(data.SampleShape, indices.Length);
        t.SetBatch(indices.Length);
        data.CopyBatch(indices, t.Span, default);
        return t;
    }
}
