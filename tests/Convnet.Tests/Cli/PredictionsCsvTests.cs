using Convnet.Cli;
using Convnet.Tests.Data;
using Xunit;

namespace Convnet.Tests.Cli;

/// <summary>predict's file,label,probability table: its columns, order, number format and quoting.</summary>
public sealed class PredictionsCsvTests
{
    private static readonly string[] Names = ["cat", "dog", "bird, small", "say \"hi\""];

    [Fact]
    public void Each_row_names_the_file_its_best_class_and_probability_with_six_decimals()
    {
        string csv = PredictionsCsv.Format(["a.png", "sub/b.jpg"], [0.1f, 0.7f, 0.15f, 0.05f, 0.000123f, 0f, 0.999877f, 0f], 4, c => Names[c], top: 1);

        Assert.Equal("file,label,probability\na.png,dog,0.700000\nsub/b.jpg,\"bird, small\",0.999877\n", csv);
    }

    [Fact]
    public void Top_k_adds_the_next_classes_most_probable_first()
    {
        string csv = PredictionsCsv.Format(["x.png"], [0.1f, 0.2f, 0.3f, 0.4f], 4, c => Names[c], top: 3);

        Assert.Equal("file,label,probability,label2,probability2,label3,probability3\nx.png,\"say \"\"hi\"\"\",0.400000,\"bird, small\",0.300000,dog,0.200000\n", csv);
    }

    [Fact]
    public void Equal_probabilities_rank_by_class_number_so_the_first_is_argmax()
    {
        float[] p = [0.25f, 0.25f, 0.25f, 0.25f];
        Span<int> order = stackalloc int[4];
        PredictionsCsv.TopClasses(p, order);
        Assert.Equal([0, 1, 2, 3], order.ToArray());
        Assert.Equal(Convnet.Models.Classifier.ArgMax(p), order[0]);
    }

    [Fact]
    public void Top_classes_agree_with_a_full_sort_on_random_rows()
    {
        var random = new Random(5);
        for (int trial = 0; trial < 200; trial++)
        {
            int classes = random.Next(1, 12);
            // Few distinct values, so ties are common.
            var p = Enumerable.Range(0, classes).Select(_ => random.Next(4) / 4f).ToArray();
            int k = random.Next(1, classes + 1);
            var order = new int[k];
            PredictionsCsv.TopClasses(p, order);
            var expected = Enumerable.Range(0, classes).OrderByDescending(c => p[c]).ThenBy(c => c).Take(k);
            Assert.Equal(expected, order);
        }
    }

    [Fact]
    public void Writing_replaces_the_file_whole()
    {
        using var dir = new TempDir();
        string path = dir.Write("predictions.csv", "old\n");
        PredictionsCsv.Write(path, ["a.png"], [1f, 0f], 2, c => c.ToString(System.Globalization.CultureInfo.InvariantCulture), top: 2);
        Assert.Equal("file,label,probability,label2,probability2\na.png,0,1.000000,1,0.000000\n", File.ReadAllText(path));
        Assert.Equal(["predictions.csv"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }
}
