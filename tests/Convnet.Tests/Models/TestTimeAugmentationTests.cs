using Convnet.Data;
using Convnet.Kernels;
using Convnet.Models;
using Convnet.Tensors;
using Xunit;

namespace Convnet.Tests.Models;

/// <summary>Test-time augmentation averages the classifier's scores over fixed views, in view order.</summary>
public class TestTimeAugmentationTests
{
    private static float[] Floats(Dataset data)
    {
        var x = new float[data.Count * 784];
        for (int i = 0; i < data.Count; i++)
        {
            Elementwise.BytesToUnit(data.Image(i), x.AsSpan(i * 784, 784));
        }
        return x;
    }

    [Fact]
    public void One_view_is_the_model_itself_bit_for_bit()
    {
        var data = EnsembleTests.RandomImages(21, seed: 4);
        using var model = EnsembleTests.Members(1)[0];
        using var tta = new TestTimeAugmentation(model, 1);
        Assert.Equal(model.Predict(data).Select(BitConverter.SingleToInt32Bits), tta.Predict(data).Select(BitConverter.SingleToInt32Bits));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(9)]
    public void Views_are_warped_copies_whose_scores_are_averaged_in_view_order(int views)
    {
        var data = EnsembleTests.RandomImages(13, seed: 6);
        using var model = EnsembleTests.Members(1, firstSeed: 3)[0];
        using var tta = new TestTimeAugmentation(model, views);
        var x = Floats(data);
        var sum = model.Predict(x);
        for (int v = 1; v < views; v++)
        {
            var view = TestTimeAugmentation.AllViews[v];
            var map = new AugmentationSample(view.RotationDegrees, view.Scale, view.ShiftX / 28.0, view.ShiftY / 28.0, 0).ToMap(28, 28);
            var warped = new float[x.Length];
            for (int i = 0; i < data.Count; i++)
            {
                AffineWarp.Bilinear(x.AsSpan(i * 784, 784), map, 28, 28, 1, warped.AsSpan(i * 784, 784));
            }
            var scores = model.Predict(warped);
            for (int j = 0; j < sum.Length; j++)
            {
                sum[j] += scores[j];
            }
        }
        var expected = sum.Select(s => s / views).ToArray();
        // Through the dataset (in blocks smaller than the data) and through floats: the same bits.
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), tta.Predict(data, batchSize: 5).Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), tta.Predict(x).Select(BitConverter.SingleToInt32Bits));
        // Averaged probabilities still sum to 1 per image.
        for (int i = 0; i < data.Count; i++)
        {
            Assert.Equal(1.0, expected.Skip(i * 10).Take(10).Sum(), 4);
        }
    }

    [Fact]
    public void The_one_pixel_shift_views_move_the_image_by_exactly_one_pixel()
    {
        var data = EnsembleTests.RandomImages(1, seed: 8);
        var x = Floats(data);
        for (int v = 1; v <= 4; v++)
        {
            var view = TestTimeAugmentation.AllViews[v];
            var map = new AugmentationSample(0, 1, view.ShiftX / 28.0, view.ShiftY / 28.0, 0).ToMap(28, 28);
            var y = new float[784];
            AffineWarp.Bilinear(x, map, 28, 28, 1, y);
            for (int r = 0; r < 28; r++)
            {
                for (int c = 0; c < 28; c++)
                {
                    int sr = r - view.ShiftY, sc = c - view.ShiftX;
                    float expected = sr is >= 0 and < 28 && sc is >= 0 and < 28 ? x[sr * 28 + sc] : 0;
                    Assert.True(Math.Abs(expected - y[r * 28 + c]) < 1e-6f, $"{view.Name} at ({r}, {c}): {y[r * 28 + c]} vs {expected}");
                }
            }
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    public void Out_of_range_view_counts_are_rejected_naming_the_argument(int views)
    {
        using var model = EnsembleTests.Members(1)[0];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TestTimeAugmentation(model, views));
        Assert.Equal("views", e.ParamName);
    }

    [Fact]
    public void Vector_inputs_are_rejected()
    {
        using var model = new Sequential(Shape.Vector(4));
        model.Add(new Convnet.Layers.Dense(3)).Add(new Convnet.Layers.Softmax());
        Assert.Throws<ArgumentException>(() => new TestTimeAugmentation(model, 2));
    }

    [Fact]
    public void An_ensemble_with_views_is_the_mean_of_its_members_with_views()
    {
        var data = EnsembleTests.RandomImages(9, seed: 10);
        using var ensemble = new Ensemble(EnsembleTests.Members(2));
        using var tta = new TestTimeAugmentation(ensemble, 3);
        var perMember = ensemble.Members.Select(m => new TestTimeAugmentation(m, 3).Predict(data)).ToArray();
        var mean = Ensemble.Mean(perMember);
        var actual = tta.Predict(data);
        for (int i = 0; i < mean.Length; i++)
        {
            // The same means taken in the other order: equal up to float rounding.
            Assert.Equal(mean[i], actual[i], 5);
        }
    }
}
