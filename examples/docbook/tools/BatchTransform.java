/*
 * BatchTransform - one JVM, one compiled stylesheet, many documents.
 *
 *   java -Dxml.catalog.files=/etc/xml/catalog
 *        -cp saxon.jar:xml-resolver.jar:build/classes
 *        BatchTransform STYLESHEET IN... -- OUT...
 *
 * Converts the i-th IN into the i-th OUT with Saxon 6.5 through JAXP,
 * resolving DTDs, entities and stylesheet imports through the XML catalog
 * (the same readers and resolver as Saxon's own command line with -x -y
 * -r), so the output is byte for byte what one StyleSheet run per file
 * gives. The stylesheet is parsed and compiled once: that is the whole
 * point, since compiling the DocBook stylesheets costs more than
 * converting a small article.
 *
 * juggle runs it from a job with `batch = N` as
 *   command = java ... BatchTransform ${xsl} {inputs} -- {outputs}
 *
 * A document that fails does not stop the others; its partial output is
 * removed, and the exit status is 1 if any failed. One thread only: the
 * catalog resolver is not thread-safe.
 */
import java.io.File;
import java.util.Arrays;
import java.util.List;
import javax.xml.transform.Templates;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.sax.SAXSource;
import javax.xml.transform.stream.StreamResult;
import org.apache.xml.resolver.tools.CatalogResolver;
import org.apache.xml.resolver.tools.ResolvingXMLReader;
import org.xml.sax.InputSource;

public final class BatchTransform {
    private static SAXSource source(File f) {
        return new SAXSource(new ResolvingXMLReader(), new InputSource(f.toURI().toString()));
    }

    public static void main(String[] args) {
        List<String> a = Arrays.asList(args);
        int sep = a.indexOf("--");
        if (args.length < 1 || sep < 1 || sep - 1 != args.length - sep - 1) {
            System.err.println("usage: BatchTransform STYLESHEET IN... -- OUT... "
                               + "(as many outputs as inputs)");
            System.exit(2);
        }
        List<String> ins = a.subList(1, sep), outs = a.subList(sep + 1, args.length);
        Templates templates;
        CatalogResolver resolver = new CatalogResolver();
        try {
            TransformerFactory tf = new com.icl.saxon.TransformerFactoryImpl();
            tf.setURIResolver(resolver);
            templates = tf.newTemplates(source(new File(args[0])));
        } catch (Exception e) {
            System.err.println("BatchTransform: " + args[0] + ": " + e.getMessage());
            System.exit(1);
            return;
        }
        int failed = 0;
        for (int i = 0; i < ins.size(); i++) {
            File in = new File(ins.get(i)), out = new File(outs.get(i));
            try {
                Transformer t = templates.newTransformer();
                t.setURIResolver(resolver);
                t.transform(source(in), new StreamResult(out));
                System.out.println("converted " + in + " -> " + out);
            } catch (Exception e) {
                failed++;
                out.delete();
                System.err.println("BatchTransform: " + in + ": " + e.getMessage());
            }
        }
        if (failed > 0) {
            System.err.println("BatchTransform: " + failed + " of " + ins.size() + " failed");
            System.exit(1);
        }
    }
}
