using Convnet.Tests.Support;
using Convnet.Data;
using Convnet.Runtime;
using Convnet.Tensors;
using Xunit;

namespace Convnet.Tests.Data;

/// <summary>The augmentation options, their random draws and the batch augmenter.</summary>
public class AugmentationTests
{
    [Fact]
    public void The_default_options_are_the_identity()
    {
        Assert.True(new Augmentation().IsIdentity);
        Assert.True(Augmentation.None.IsIdentity);
        Assert.False(new Augmentation(shear: 5).IsIdentity);
        Assert.Equal("none", Augmentation.None.ToString());
    }

    [Theory]
    [InlineData(-1, 0, 0, 0, "rotationDegrees")]
    [InlineData(181, 0, 0, 0, "rotationDegrees")]
    [InlineData(double.NaN, 0, 0, 0, "rotationDegrees")]
    [InlineData(0, 1, 0, 0, "zoom")]
    [InlineData(0, -0.1, 0, 0, "zoom")]
    [InlineData(0, 0, 1.5, 0, "shiftFraction")]
    [InlineData(0, 0, 0, 90, "shear")]
    [InlineData(0, 0, 0, double.PositiveInfinity, "shear")]
    public void Out_of_range_options_are_rejected_naming_the_argument_and_value(double rotation, double zoom, double shift, double shear, string name)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Augmentation(rotation, zoom, shift, shear));
        Assert.Equal(name, e.ParamName);
        Assert.Contains("got ", e.Message);
    }

    [Fact]
    public void Parse_reads_the_compact_form_and_round_trips_through_ToString()
    {
        var a = Augmentation.Parse("rotation=10, zoom=0.1,shift=0.1");
        Assert.Equal(new Augmentation(10, 0.1, 0.1, 0), a);
        Assert.Equal("rotation=10,zoom=0.1,shift=0.1,shear=0", a.ToString());
        Assert.Equal(a, Augmentation.Parse(a.ToString()));
        Assert.Equal(new Augmentation(shear: 8), Augmentation.Parse("shear=8"));
        Assert.True(Augmentation.Parse("none").IsIdentity);
    }

    [Theory]
    [InlineData("rotation=10,spin=3", "spin=3")]
    [InlineData("rotation=ten", "rotation=ten")]
    [InlineData("zoom", "zoom")]
    [InlineData("zoom=2", "zoom=2")]
    [InlineData("shift=0.1,shift=0.2", "shift=0.2")]
    public void Parse_names_the_bad_token(string text, string token)
    {
        var e = Assert.Throws<FormatException>(() => Augmentation.Parse(text));
        Assert.Contains($"'{token}'", e.Message);
    }

    [Fact]
    public void Drawn_parameters_stay_within_the_configured_ranges_and_cover_them()
    {
        var options = new Augmentation(rotationDegrees: 15, zoom: 0.2, shiftFraction: 0.1, shear: 10);
        double maxAngle = 0, maxZoom = 0, maxShift = 0, maxShear = 0;
        for (int i = 0; i < 20_000; i++)
        {
            var rng = Augmentation.Stream(3, i % 7, i);
            var s = options.Draw(ref rng);
            Assert.InRange(s.RotationDegrees, -15, 15);
            Assert.InRange(s.Scale, 0.8, 1.2);
            Assert.InRange(s.ScaleY, 0.8, 1.2);
            Assert.InRange(s.ShiftX, -0.1, 0.1);
            Assert.InRange(s.ShiftY, -0.1, 0.1);
            Assert.InRange(s.ShearDegrees, -10, 10);
            maxAngle = Math.Max(maxAngle, Math.Abs(s.RotationDegrees));
            maxZoom = Math.Max(maxZoom, Math.Max(Math.Abs(s.Scale - 1), Math.Abs(s.ScaleY - 1)));
            // Independent axes, as Keras's zoom_range: the scales differ (equal with probability 0).
            Assert.NotEqual(s.Scale, s.ScaleY);
            maxShift = Math.Max(maxShift, Math.Max(Math.Abs(s.ShiftX), Math.Abs(s.ShiftY)));
            maxShear = Math.Max(maxShear, Math.Abs(s.ShearDegrees));
        }
        Assert.True(maxAngle > 14.9 && maxZoom > 0.199 && maxShift > 0.099 && maxShear > 9.9, $"{maxAngle} {maxZoom} {maxShift} {maxShear}");
    }

    [Fact]
    public void A_zero_range_draws_exactly_the_identity_value()
    {
        var options = new Augmentation(rotationDegrees: 10);
        var rng = Augmentation.Stream(1, 0, 0);
        var s = options.Draw(ref rng);
        Assert.NotEqual(0, s.RotationDegrees);
        Assert.Equal((1.0, 1.0, 0.0, 0.0, 0.0), (s.Scale, s.ScaleY, s.ShiftX, s.ShiftY, s.ShearDegrees));
    }

    [Fact]
    public void Streams_differ_by_epoch_index_and_seed_and_repeat_for_the_same_key()
    {
        ulong First(ulong seed, int epoch, int index) => Augmentation.Stream(seed, epoch, index).NextUInt64();
        Assert.Equal(First(5, 2, 9), First(5, 2, 9));
        Assert.NotEqual(First(5, 0, 9), First(5, 1, 9));
        Assert.NotEqual(First(5, 0, 9), First(5, 0, 10));
        Assert.NotEqual(First(5, 0, 9), First(6, 0, 9));
    }

    private static Tensor Batch(Dataset data, int[] indices)
    {
        var t = new Tensor(data.SampleShape, indices.Length);
        t.SetBatch(indices.Length);
        data.CopyBatch(indices, t.Span, default);
        return t;
    }

    [Fact]
    public void A_sample_is_warped_by_its_dataset_index_not_its_batch_position_or_thread_count()
    {
        var data = Models.SyntheticDigits.Create(40, seed: 2);
        var options = new Augmentation(rotationDegrees: 20, zoom: 0.1, shiftFraction: 0.1, shear: 5);
        int[] forward = Enumerable.Range(0, 40).ToArray();
        int[] backward = forward.Reverse().ToArray();
        using var one = new WorkerPool(1);
        using var two = new WorkerPool(2);
        var a = Batch(data, forward);
        var b = Batch(data, backward);
        new BatchAugmenter().Apply(one, options, a, forward, seed: 7, epoch: 3);
        new BatchAugmenter().Apply(two, options, b, backward, seed: 7, epoch: 3);
        for (int i = 0; i < 40; i++)
        {
            Assert.Equal(a.Sample(i).ToArray(), b.Sample(39 - i).ToArray());
        }
        Assert.NotEqual(Batch(data, forward).Sample(0).ToArray(), a.Sample(0).ToArray());
    }

    [Fact]
    public void Two_epochs_draw_different_transforms_for_the_same_image()
    {
        var data = Models.SyntheticDigits.Create(20, seed: 4);
        var options = new Augmentation(rotationDegrees: 10, zoom: 0.1, shiftFraction: 0.1);
        int[] indices = Enumerable.Range(0, 20).ToArray();
        using var pool = new WorkerPool(1);
        var augmenter = new BatchAugmenter();
        var epoch0 = Batch(data, indices);
        var epoch1 = Batch(data, indices);
        var epoch0Again = Batch(data, indices);
        augmenter.Apply(pool, options, epoch0, indices, seed: 1, epoch: 0);
        augmenter.Apply(pool, options, epoch1, indices, seed: 1, epoch: 1);
        augmenter.Apply(pool, options, epoch0Again, indices, seed: 1, epoch: 0);
        Assert.Equal(epoch0.Span.ToArray(), epoch0Again.Span.ToArray());
        for (int i = 0; i < 20; i++)
        {
            Assert.NotEqual(epoch0.Sample(i).ToArray(), epoch1.Sample(i).ToArray());
            var r0 = Augmentation.Stream(1, 0, i);
            var r1 = Augmentation.Stream(1, 1, i);
            Assert.NotEqual(options.Draw(ref r0), options.Draw(ref r1));
        }
    }

    [Fact]
    public void Warping_a_batch_allocates_nothing_once_the_buffers_exist()
    {
        var data = Models.SyntheticDigits.Create(40, seed: 4);
        int[] indices = Enumerable.Range(0, 40).ToArray();
        var options = new Augmentation(rotationDegrees: 10, zoom: 0.1, shiftFraction: 0.1, shear: 5);
        using var pool = new WorkerPool(1); // runs on this thread, where allocations are counted
        var batch = Batch(data, indices);
        var augmenter = new BatchAugmenter();
        augmenter.Apply(pool, options, batch, indices, seed: 1, epoch: 0);
        int epoch = 0;
        Assert.Equal(0, SteadyState.AllocatedBytes(() => augmenter.Apply(pool, options, batch, indices, seed: 1, ++epoch)));
    }

    [Fact]
    public void Identity_options_leave_the_batch_bit_identical()
    {
        var data = Models.SyntheticDigits.Create(10, seed: 4);
        int[] indices = Enumerable.Range(0, 10).ToArray();
        using var pool = new WorkerPool(2);
        var batch = Batch(data, indices);
        new BatchAugmenter().Apply(pool, new Augmentation(), batch, indices, seed: 1, epoch: 0);
        Assert.Equal(Batch(data, indices).Span.ToArray(), batch.Span.ToArray());
    }
}
