"""What Malaysian personal names look like, for entities.py: the given names
people of each community commonly carry, Chinese surnames in their
Malaysian spellings, and the hereditary prefixes that start a name.

General knowledge of naming, not names taken from any corpus: a person is
recognised by the shape of the name ("Ahmad Fauzi", "Tan Kok Wing",
"Kelvin Ong", "Suresh Kumar", "Jeffrey Kitingan"), not by being listed.
"""

from __future__ import annotations


def word_set(text: str) -> frozenset[str]:
    """The words of `text`, for lists written as prose."""
    return frozenset(text.split())


# Malay and other Muslim given names, male and female, with their usual
# spellings and the short forms people go by.
MALAY = word_set(
    """
    Ahmad Ahmed Muhammad Muhamad Mohd Mohamad Mohamed Mohammad Mohammed Md Abdul Abd Abdullah Abu Ali Alias
    Hassan Hasan Hussin Hussein Husin Husain Ismail Ibrahim Idris Yusof Yusoff Yusuf Yunus Osman Othman Omar Umar
    Zainal Zainudin Zainuddin Zulkifli Zulkifly Zul Azman Azmi Aziz Azlan Azhar Azam Azri Azrul Azrin Azizi Rahim
    Rahman Razak Rashid Rasid Rosli Roslan Rosdi Ramli Hamid Hamzah Halim Hakim Hafiz Hafizi Hafizuddin Hisham
    Hashim Harun Haron Jamal Jamaluddin Jamil Kamal Kamaruddin Kamarul Kamarulzaman Khairul Khairi Khalid Latif
    Mahmud Mahmood Majid Mansor Mansur Mazlan Mokhtar Mukhtar Mustafa Mustapha Nasir Nazri Nazrin Nordin Norazman
    Rizal Rizwan Razali Saiful Saifuddin Salleh Samad Shafie Shahrul Shahril Shahrizal Shamsul Shamsudin Sulaiman
    Suhaimi Tajuddin Wahab Yaakob Yaacob Yaakub Yahya Zaini Zakaria Zaki Zamri Zubir Zubair Faizal Faisal Faiz
    Faizul Fauzi Fauzan Fadzil Fadzli Fadhil Firdaus Haziq Aiman Amirul Amir Arif Ariff Asyraf Ashraf Danial
    Farid Faris Fikri Hairul Hazwan Ikhwan Iskandar Izzat Izwan Luqman Lokman Nabil Najib Nizam Nizar Qayyum Rafiq
    Rafi Redzuan Ridzuan Rosmadi Safwan Shafiq Syafiq Syahmi Syahrul Taufik Taufiq Wafi Zaid Zikri Anuar Anwar
    Badrul Baharuddin Borhan Daud Dzulkifli Effendi Fuad Ghani Ghazali Hanafi Idham Ilyas Irwan Jaafar Jalil
    Jusoh Kassim Kasim Marzuki Muhyiddin Musa Nasaruddin Razif Rusli Saad Sabri Salim Samsudin Sani Shaari
    Sharif Sidek Sufian Sulong Talib Tarmizi Yazid Zahid Zahari Zamani Zawawi Zulhilmi Zulkarnain Adnan Affendi
    Afiq Akmal Amran Arshad Asri Asmawi Awang Azhan Bakar Basri Bukhari Burhan Fahmi Fairuz Fakhrul Habib Hadi
    Hairi Hamdan Hanif Hasbullah Helmi Hilmi Husni Ikmal Imran Irfan Ishak Jamaludin Johari Kamil Khairuddin Lutfi
    Mahadi Mahathir Malik Manaf Mazlee Mazli Mohsin Muaz Muiz Mustakim Najmi Naim Nasrul Nazim Nazmi Norman
    Noraini Rahmat Ramlan Ramzi Rasyid Razman Ridhwan Rizuan Roslee Rosman Rustam Sabri Safuan Saharudin Shahrin
    Shukri Sofian Subri Suhaili Sukri Syazwan Syukri Wazir Yasin Zafran Zahir Zahrin Zaidi Zainol Zairi Zakri
    Zamzuri Zarul Zulfadli Zulfikar Zuraimi Hakimi Haikal Hazim Hazrul Hilman Lokmanul Mukhriz Nazhan Rashidi
    Nur Noor Nor Said Amin Iman Hakim Salim Malik Habib Rahmat Alias Mat Bakar Naim
    Siti Nurul Norazlina Norhayati Nurhayati Aminah Aishah Aisyah Fatimah Faridah Hasnah Halimah Hamidah
    Khadijah Mariam Maryam Zainab Zaleha Zaiton Zarina Rosnah Rohani Rohana Rahmah Rosmah Salmah Salmiah Sarimah
    Suraya Azizah Aziah Norlela Marlina Rozita Roslina Haslinda Norhaslinda Liza Farah Hidayah Izzah Nabila
    Nadia Syafiqah Syazwani Amirah Aina Balqis Damia Hanis Husna Insyirah Khairunnisa Maisarah Najwa Qistina
    Sofea Wardah Yasmin Zulaikha Atikah Azlina Zakiah Rokiah Ramlah Kalsom Jamilah Latifah Habibah Hayati Norliza
    Rozana Suhana Suzana Zuraidah Normah Maimunah Ruhaida Norazizah Norasyikin Nordiana Noorhayati Nurulhuda
    Asmah Azura Faezah Fadzilah Hafizah Hasmah Jamaliah Juliana Kartini Mahani Marina Maznah Noorazlina Noraida
    Norashikin Norizan Norsiah Rafidah Rashidah Rosliza Roziah Rubiah Saadiah Salina Sakinah Shahida Sharifah
    Suhaila Suriani Syahirah Umi Wan Nik Che Syed Tengku Tunku Megat Puteri Dayang Pengiran
    """
)

# Indian given names and family names (Tamil, Telugu, Malayali, Punjabi).
INDIAN = word_set(
    """
    Arumugam Muthu Muthusamy Murugan Murugesan Ganesan Ganesh Gopal Gopala Krishnan Krishna Kumar Kumaran Rajoo
    Raju Ramasamy Ramesh Rajesh Ravi Ravindran Saravanan Selvam Selvaraj Siva Sivakumar Subramaniam Subramaniyam
    Suppiah Suresh Velu Vijay Vijayan Kannan Karthik Letchumanan Manikam Maniam Mohan Nathan Palani Perumal
    Pillai Prakash Rajendran Ramakrishnan Sanjay Sathish Segar Shanmugam Sundram Thangaraj Thiru Vasu Veerasamy
    Govindasamy Govindan Anand Arun Balan Balakrishnan Dinesh Devaraj Jeeva Jegan Kalai Kavitha Devi Lakshmi
    Letchumi Malar Meena Priya Puspa Pushpa Revathi Saraswathy Shanti Shanthi Sumathi Valli Geetha Janaki Kamala
    Kalaivani Logeswari Nirmala Parvathi Sangeetha Thilaga Vasanthi Yogeswari Singh Kaur Gurdeep Harjit Jaswant
    Kuldip Manjit Ranjit Sivaraman Rajan Rajagopal Rajkumar Ramu Rao Reddy Samy Sami Sellamuthu Tamilselvan
    Thanabalan Thevar Vellu Vikram Vinod Yogan Ashok Deepak Guna Gunasegaran Kalidas Kathiravan Mahendran
    Manogaran Mariappan Nagarajan Navin Pandian Paramasivam Prabhu Rathakrishnan Sekar Shankar Sivam Suria
    Thinesh Uthaya Vanitha Vimala Indrani Jayanthi Kasturi Komathi Mageswari Mala Mathavi Nalini Padma
    Prema Rajeswari Rukumani Santhi Selvi Shamala Sharmila Suganthi Thamarai Usha Vijaya
    """
)

# Western given names, carried by many Chinese, Indian, Kadazan-Dusun, Iban
# and other Sabah and Sarawak Malaysians ("Kelvin Ong", "Jeffrey Kitingan").
# Words that are also ordinary words or months (Mark, Grace, May, June) are left out.
WESTERN = word_set(
    """
    Adrian Albert Alex Alexander Alvin Ambrose Andrew Andy Angela Anthony Benedict Benjamin Bernard Brian Bryan
    Catherine Charles Christopher Clement Daniel Darren David Dennis Dominic Edmund Edward Edwin Elaine Eric
    Felix Francis Gabriel Gary George Gregory Henry Jason Jeff Jeffrey Jeffery Jenny Jerry Jimmy Joanne John
    Johnny Jonathan Joseph Joshua Julia Justin Kelvin Kenneth Kevin Lawrence Leonard Linda Louis Maria Mary
    Matthew Melvin Michael Michelle Nicholas Patrick Paul Peter Philip Raymond Richard Robert Ronald Rudy Samuel
    Sandra Simon Stanley Stephen Steven Susan Terry Thomas Timothy Tony Vincent Wilfred William Winnie Wilson
    Joanna Jessica Karen Cindy Alice Amy Annie Betty Carol Christine Doris Emily Fiona Helen Irene Janet Jane
    Joyce Judy Julie Lucy Nancy Peggy Rachel Rebecca Sally Sarah Shirley Stella Teresa Vivian Wendy Yvonne
    Danny Eddie Gavin Ivan Jackson Kenny Marcus Nelson Oscar Ryan Sean Shawn Victor Willie Calvin Collin
    Desmond Dickson Douglas Ernest Fabian Gerald Herman Jerome Jude Lester Marvin Oliver Ricky Rodney Roland
    Sebastian Terence Walter Wesley Jacky Alan Allen Aaron Agnes Benny Bobby Cheryl Clara Connie Daisy Derek
    Dorothy Elizabeth Evelyn Florence Francisca Freddie Gilbert Harry Ignatius Jacqueline Jennifer Jimmy Jolly
    Kathleen Keith Lucas Magdalene Margaret Martin Maurice Monica Patricia Priscilla Rosalind Rosemary Stanislaus
    Steve Sylvester Sylvia Tommy Veronica Wong Yolanda Bob
    """
) - {"Wong"}

# Chinese surnames as Malaysians spell them (Hokkien, Cantonese, Hakka,
# Teochew, Hainanese, Foochow and Mandarin romanisations).
CHINESE_SURNAMES = word_set(
    """
    Tan Lim Lee Wong Ng Chan Chong Ong Goh Teh Chua Yap Low Leong Lau Loh Koh Khoo Liew Chin Foo Ho Yeoh Soh
    Cheah Choo Kok Kwan Lai Lam Liow Mah Ooi Phang Poh Quek Sim Siew Tay Toh Wee Yong Chew Chia Hew Ang Chai
    Cheong Chiew Chu Fong Gan Heng Hii Kang Kee Kuan Kwok Lew Liang Loo Lum Neoh Pang Saw Seow Tang Thong Tiong
    Woo Yam Yee Yeo Yew Yip Chee Choong Hoo Kho Ling Ngu Sia Teo Ting Zhang Chang Huang Hwang Teoh Lau Loke
    Mok Phua Quah See Soo Tee Teng Tham Thian Tong Woon Yu Chiang Hee Hoh Kam Loong Choy Cheng Chen Lin Liu Li
    Wang Zhao Sun Ma Hu Guo Kwong Kong Tai Lye Voon Fung Hon Lok Oon Kuah Eng Beh Boey Cheam Siah Soon Tew Thoo
    Yin Hor Khor Lo Au Chai Chow Chuah Ee Fam Gooi Hong Hui Kan Khaw Koay Kow Kua Kung Lean Leow Liong Loi Looi
    Lu Mak Meng Moy Ngai Ngoh Ou Pan Pek Peh Pua Seah Seng Shum Sii Sow Su Tai Tam Tee Tey Tho Thum Tian Toong
    Tsang Wai Wan Wei Wen Wu Xu Yang Yap Yau Yek Yuen Yuan Zheng Zhou Chong Keong Kiew Kwa Liau
    """
)

# Hereditary prefixes and honorifics that start a Malay or Sarawak name
# ("Wan Rosli", "Nik Aziz", "Syed Hamid", "Awang Tengah", "Dayang Nurfaizah").
HEREDITARY = word_set("Wan Nik Che Syed Sharifah Tengku Tunku Megat Puteri Raja Awang Dayang Abang Pengiran Datu")

# Given names that are also ordinary words, a place or a prefix: a name only
# beside another name word, never alone.
NOT_ALONE = word_set(
    """
    Said Mat Nur Noor Nor Iman Amin Abu Ab Abd Abdul Md Mohd Muhammad Muhamad Mohamad Mohammad Bala Mani Uma
    Sri Seri Wan Nik Che Syed Tengku Tunku Megat Puteri Raja Awang Dayang Abang Pengiran Datu Singh Kaur Mala
    Sun Malik Habib Salim Suria Prema Padma Marina Hakim Naim Norman Alias Rahmat Sami Samy Kalai Jeeva Thiru
    Guna Sivam Mahani Kartini Umi Bakar Ma Li Hu Lo Au Ee Su Yu Xu Wu Pan Ou Lu Ho Ng
    """
)

GIVEN = MALAY | INDIAN | WESTERN
